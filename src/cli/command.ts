// What every CLI verb looks like: its flags (pflag syntax) and an action.
import type { FlagSpec, ParsedFlags } from './flags.ts';

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string; // e.g. "deploy <service>"
  // How many positional arguments: exactly this many (cobra's ExactArgs/NoArgs).
  args: number;
  flags: FlagSpec[];
  // Returns the exit code.
  action(parsed: ParsedFlags): Promise<number>;
}

// Commands under one word, as `rollout deploy|set|stop` (a cobra command with
// subcommands and no action of its own).
export interface CommandGroup {
  name: string;
  summary: string;
  commands: Command[];
}

export class UsageError extends Error {}
