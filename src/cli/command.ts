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

export class UsageError extends Error {}
