// Entry point of bin/kamal-proxy and bin/kamal-napper: argv to the CLI.
import { log } from './log/logger.ts';
import { runCli } from './cli/cli.ts';

const code = await runCli(process.argv.slice(2));
log.flushSync();
process.exitCode = code;
