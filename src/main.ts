// Entry point of bin/kamal-proxy and bin/kamal-napper: argv to the CLI.
import { log } from './log/logger.ts';
import { runCli } from './cli/cli.ts';

// bin/kamal-proxy turned Node's compile cache on for us; apps we start
// (--nap-command) should not write into it.
if (process.env.KAMAL_NAPPER_COMPILE_CACHE_SET === '1') {
  delete process.env.NODE_COMPILE_CACHE;
  delete process.env.KAMAL_NAPPER_COMPILE_CACHE_SET;
}

const code = await runCli(process.argv.slice(2));
log.flushSync();
process.exitCode = code;
