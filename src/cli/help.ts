// Help texts, laid out as cobra's default templates lay them out: the root's
// (every command), a group's (`rollout`) and one command's (usage, aliases,
// flags). `program` is the name we were called by.
import type { Command, CommandGroup } from './command.ts';
import { formatFlagUsages } from './flags.ts';
import type { FlagSpec } from './flags.ts';

const ABOUT = 'kamal-napper: a kamal-proxy compatible HTTP proxy that naps idle apps';
const HELP_COMMAND = { name: 'help', summary: 'Help about any command' };

// cobra adds -h/--help to every command, worded after it.
export function helpFlag(name: string): FlagSpec {
  return { name: 'help', shorthand: 'h', type: 'bool', default: false, usage: `help for ${name}` };
}

// The root's usage, without the line about the program: cobra prints it alone
// for an unknown help topic.
export function rootUsage(program: string, commands: readonly Command[], groups: readonly CommandGroup[]): string {
  return groupUsage(program, [...commands, ...groups, HELP_COMMAND], program);
}

export function rootHelp(program: string, commands: readonly Command[], groups: readonly CommandGroup[]): string {
  return `${ABOUT}\n\n${rootUsage(program, commands, groups)}`;
}

export function groupHelp(program: string, group: CommandGroup): string {
  return `${group.summary}\n\n${groupUsage(`${program} ${group.name}`, group.commands, group.name)}`;
}

export function commandHelp(program: string, command: Command): string {
  const aliases = command.aliases ? `\nAliases:\n  ${[command.name, ...command.aliases].join(', ')}\n` : '';
  const flags = formatFlagUsages([...command.flags, helpFlag(command.name)]);
  return `${command.summary}\n\nUsage:\n  ${program} ${command.usage} [flags]\n${aliases}\nFlags:\n${flags}`;
}

function groupUsage(path: string, entries: readonly { name: string; summary: string }[], name: string): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const width = Math.max(...sorted.map((e) => e.name.length));
  return [
    'Usage:',
    `  ${path} [command]`,
    '',
    'Available Commands:',
    ...sorted.map((e) => `  ${e.name.padEnd(width)} ${e.summary}`),
    '',
    'Flags:',
    formatFlagUsages([helpFlag(name)]).trimEnd(),
    '',
    `Use "${path} [command] --help" for more information about a command.`,
    '',
  ].join('\n');
}

// `help help`, in cobra's words.
export function helpCommandHelp(program: string): string {
  return (
    `Help provides help for any command in the application.\nSimply type ${program} help [path to command] for full details.\n\n` +
    `Usage:\n  ${program} help [command] [flags]\n\nFlags:\n${formatFlagUsages([helpFlag('help')])}`
  );
}
