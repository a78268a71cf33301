// Entry point of bin/kamal-proxy and bin/kamal-napper: argv to the CLI.
import { log } from './log/logger.ts';
import { runCli } from './cli/cli.ts';

// The name we were called by (kamal-proxy or kamal-napper; bin/kamal-proxy
// passes $0's, since process.argv[1] is this file): help and errors use it.
const program = process.env.KAMAL_NAPPER_PROGRAM || 'kamal-proxy';
delete process.env.KAMAL_NAPPER_PROGRAM;

// Settings bin/kamal-proxy made for this process only (compile cache, malloc
// arenas); apps we start with --nap-command should not inherit them.
for (const name of (process.env.KAMAL_NAPPER_SET_ENV ?? '').split(' ')) if (name !== '') delete process.env[name];
delete process.env.KAMAL_NAPPER_SET_ENV;

const code = await runCli(process.argv.slice(2), program);
log.flushSync();
process.exitCode = code;
