// The command line, with cobra's conventions: `kamal-proxy <command> [flags]`,
// `help`, `-h/--help`, and `Error: <message>` on stderr with exit status 1
// (no usage text on errors).
import type { Command } from './command.ts';
import { deployCommand } from './deploy.ts';
import { FlagError, formatFlagUsages, parseFlags } from './flags.ts';
import type { FlagSpec } from './flags.ts';
import { listCommand } from './list.ts';
import { removeCommand } from './remove.ts';
import { runCommand } from './run.ts';

const PROGRAM = 'kamal-proxy';
const COMMANDS: Command[] = [deployCommand, listCommand, removeCommand, runCommand];
const HELP_FLAG: FlagSpec = { name: 'help', shorthand: 'h', type: 'bool', default: false, usage: 'help' };

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') return printHelp();
  if (first === 'help') {
    const target = rest[0] === undefined ? undefined : find(rest[0]);
    if (rest[0] !== undefined && target === undefined) throw new Error(`unknown command "${rest[0]}" for "${PROGRAM}"`);
    return target ? printCommandHelp(target) : printHelp();
  }
  const command = find(first);
  if (command === undefined) {
    if (first.startsWith('-')) throw new FlagError(`unknown flag: ${first.split('=')[0]}`);
    throw new Error(`unknown command "${first}" for "${PROGRAM}"`);
  }
  const parsed = parseFlags(rest, [...command.flags, HELP_FLAG]);
  if (parsed.values.help === true) return printCommandHelp(command);
  if (command.args === 0 && parsed.args.length > 0) {
    throw new Error(`unknown command "${parsed.args[0]}" for "${PROGRAM} ${command.name}"`);
  }
  if (command.args > 0 && parsed.args.length !== command.args) {
    throw new Error(`accepts ${command.args} arg(s), received ${parsed.args.length}`);
  }
  return command.action(parsed);
}

function printHelp(): number {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = [
    'kamal-napper: a kamal-proxy compatible HTTP proxy that naps idle apps',
    '',
    'Usage:',
    `  ${PROGRAM} [command]`,
    '',
    'Available Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`),
    `  ${'help'.padEnd(width)} Help about any command`,
    '',
    `Use "${PROGRAM} [command] --help" for more information about a command.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function printCommandHelp(c: Command): number {
  const aliases = c.aliases ? `\nAliases:\n  ${[c.name, ...c.aliases].join(', ')}\n` : '';
  process.stdout.write(
    `${c.summary}\n\nUsage:\n  ${PROGRAM} ${c.usage} [flags]\n${aliases}\nFlags:\n${formatFlagUsages([...c.flags, HELP_FLAG])}`,
  );
  return 0;
}
