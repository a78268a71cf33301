// The command line, with cobra's conventions: `kamal-proxy <command> [flags]`,
// `help`, `-h/--help`, and `Error: <message>` on stderr with exit status 1
// (no usage text on errors).
import type { Command } from './command.ts';
import { FlagError, formatFlagUsages, parseFlags } from './flags.ts';
import type { FlagSpec } from './flags.ts';
import { runCommand } from './run.ts';

const PROGRAM = 'kamal-proxy';
const HELP_FLAG: FlagSpec = { name: 'help', shorthand: 'h', type: 'bool', default: false, usage: 'help' };

interface Verbs {
  commands: Command[];
  groups: Record<string, Command[]>;
}

// Every verb but `run` is a short-lived client that `docker exec` starts.
// Their modules (with the control client, validation and table output) load
// only for one of them or for help, so the server process does not carry
// them: 0.6 MiB of RSS (bench/README.md, "Memory").
async function verbs(): Promise<Verbs> {
  const c = await import('./client-commands.ts');
  return {
    commands: [
      c.deployCommand, c.listCommand, c.pauseCommand, c.removeCommand, c.resumeCommand, runCommand, c.stopCommand,
      // kamal-napper's own
      c.napCommand, c.statusCommand, c.stopAllCommand, c.wakeCommand,
    ],
    // `rollout` is a group, as in kamal-proxy: `kamal-proxy rollout deploy|set|stop`.
    groups: { rollout: c.rolloutCommands },
  };
}

function find(commands: Command[], name: string): Command | undefined {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
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
  if (first === runCommand.name) return execute(runCommand, rest, `${PROGRAM} ${runCommand.name}`);
  const { commands, groups } = await verbs();
  if (first === undefined || first === '-h' || first === '--help') return printHelp(commands);
  if (first === 'help') {
    const target = rest[0] === undefined ? undefined : find(commands, rest[0]);
    if (rest[0] !== undefined && target === undefined) throw new Error(`unknown command "${rest[0]}" for "${PROGRAM}"`);
    return target ? printCommandHelp(target) : printHelp(commands);
  }
  if (groups[first] !== undefined) return dispatchGroup(first, groups[first], rest);
  const command = find(commands, first);
  if (command === undefined) {
    if (first.startsWith('-')) throw new FlagError(`unknown flag: ${first.split('=')[0]}`);
    throw new Error(`unknown command "${first}" for "${PROGRAM}"`);
  }
  return execute(command, rest, `${PROGRAM} ${command.name}`);
}

async function dispatchGroup(name: string, commands: Command[], argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') return printGroupHelp(name, commands);
  const command = commands.find((c) => c.name === sub);
  if (command === undefined) throw new Error(`unknown command "${sub}" for "${PROGRAM} ${name}"`);
  return execute(command, rest, `${PROGRAM} ${name} ${command.name}`);
}

async function execute(command: Command, argv: readonly string[], fullName: string): Promise<number> {
  const parsed = parseFlags(argv, [...command.flags, HELP_FLAG]);
  if (parsed.values.help === true) return printCommandHelp(command);
  if (command.args === 0 && parsed.args.length > 0) {
    throw new Error(`unknown command "${parsed.args[0]}" for "${fullName}"`);
  }
  if (command.args > 0 && parsed.args.length !== command.args) {
    throw new Error(`accepts ${command.args} arg(s), received ${parsed.args.length}`);
  }
  return command.action(parsed);
}

function printHelp(commands: Command[]): number {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = [
    'kamal-napper: a kamal-proxy compatible HTTP proxy that naps idle apps',
    '',
    'Usage:',
    `  ${PROGRAM} [command]`,
    '',
    'Available Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`),
    `  ${'rollout'.padEnd(width)} Manage a cookie-based rollout (deploy, set, stop)`,
    `  ${'help'.padEnd(width)} Help about any command`,
    '',
    `Use "${PROGRAM} [command] --help" for more information about a command.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function printGroupHelp(name: string, commands: Command[]): number {
  const lines = ['Usage:', `  ${PROGRAM} ${name} [command]`, '', 'Available Commands:', ...commands.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`)];
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
