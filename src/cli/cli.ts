// The command line, with cobra's conventions: `<program> <command> [flags]`,
// `help`, `-h/--help`, and `Error: <message>` on stderr with exit status 1
// (no usage on errors; a mistyped command gets suggestions). `program` is the
// name we were called by.
import type { Command, CommandGroup } from './command.ts';
import { FlagError, parseFlags } from './flags.ts';
import { goQuote } from '../util/go-quote.ts';
import { commandHelp, groupHelp, helpCommandHelp, helpFlag, rootHelp, rootUsage } from './help.ts';
import { runCommand } from './run.ts';
import { UnknownCommandError } from './unknown-command.ts';

interface Verbs {
  commands: Command[];
  groups: CommandGroup[];
}

// Every verb but `run` is a short-lived client that `docker exec` starts:
// their modules load only for one of them or for help, so the server does
// not carry them (bench/README.md, "Memory").
async function verbs(): Promise<Verbs> {
  const c = await import('./client-commands.ts');
  return {
    commands: [
      c.deployCommand, c.listCommand, c.pauseCommand, c.removeCommand, c.resumeCommand, runCommand, c.stopCommand,
      // kamal-napper's own
      c.napCommand, c.statusCommand, c.stopAllCommand, c.wakeCommand,
    ],
    // `rollout` is a group, as in kamal-proxy: `kamal-proxy rollout deploy|set|stop`.
    groups: [c.rolloutGroup],
  };
}

function find(commands: readonly Command[], name: string): Command | undefined {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
}

export async function runCli(argv: readonly string[], program = 'kamal-proxy'): Promise<number> {
  try {
    return await dispatch(argv, program);
  } catch (err) {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof UnknownCommandError) process.stderr.write(`Run '${err.commandPath} --help' for usage.\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], program: string): Promise<number> {
  const [first, ...rest] = argv;
  if (first === runCommand.name) return execute(runCommand, rest, `${program} ${runCommand.name}`, program);
  const { commands, groups } = await verbs();
  if (first === undefined || first === '-h' || first === '--help') return print(rootHelp(program, commands, groups));
  if (first === 'help') return help(program, { commands, groups }, rest);
  const group = groups.find((g) => g.name === first);
  if (group !== undefined) return dispatchGroup(program, group, rest);
  const command = find(commands, first);
  if (command === undefined) {
    if (first.startsWith('-')) throw new FlagError(`unknown flag: ${first.split('=')[0]}`);
    // cobra suggests among the commands it lists, not `help` itself.
    const names = [...commands, ...groups].map((c) => c.name).sort();
    throw new UnknownCommandError(first, program, names);
  }
  return execute(command, rest, `${program} ${command.name}`, program);
}

async function dispatchGroup(program: string, group: CommandGroup, argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') return print(groupHelp(program, group));
  const command = group.commands.find((c) => c.name === sub);
  if (command === undefined) {
    if (sub.startsWith('-')) throw new FlagError(`unknown flag: ${sub.split('=')[0]}`);
    // cobra would print the group's help here; the error says more.
    throw new UnknownCommandError(sub, `${program} ${group.name}`, group.commands.map((c) => c.name));
  }
  return execute(command, rest, `${program} ${group.name} ${command.name}`, program);
}

// `help [command [subcommand]]`, resolved as cobra's Find does: words past a
// command without subcommands are ignored, and so is an unknown subcommand.
function help(program: string, { commands, groups }: Verbs, topic: readonly string[]): number {
  const [first, second] = topic;
  if (first === undefined) return print(rootHelp(program, commands, groups));
  if (first === 'help') return print(helpCommandHelp(program));
  const group = groups.find((g) => g.name === first);
  if (group !== undefined) {
    const command = second === undefined ? undefined : group.commands.find((c) => c.name === second);
    return print(command === undefined ? groupHelp(program, group) : commandHelp(program, command));
  }
  const command = find(commands, first);
  if (command !== undefined) return print(commandHelp(program, command));
  // cobra: this line and the usage on stderr, and still exit status 0.
  process.stderr.write(`Unknown help topic [${topic.map(goBackquote).join(' ')}]\n${rootUsage(program, commands, groups)}`);
  return 0;
}

async function execute(command: Command, argv: readonly string[], fullName: string, program: string): Promise<number> {
  const parsed = parseFlags(argv, [...command.flags, helpFlag(command.name)]);
  if (parsed.values.help === true) return print(commandHelp(program, command));
  if (command.args === 0 && parsed.args.length > 0) {
    throw new Error(`unknown command ${goQuote(parsed.args[0]!)} for ${goQuote(fullName)}`);
  }
  if (command.args > 0 && parsed.args.length !== command.args) {
    throw new Error(`accepts ${command.args} arg(s), received ${parsed.args.length}`);
  }
  return command.action(parsed);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

// Go's %#q for a string: back-quoted when strconv.CanBackquote allows it.
function goBackquote(s: string): string {
  return /^[^`\x00-\x08\x0a-\x1f\x7f\ufeff]*$/.test(s) ? `\`${s}\`` : goQuote(s);
}
