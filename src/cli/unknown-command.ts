// A command name we do not know, reported as cobra reports it: the error,
// "Did you mean this?" with the near misses, and where to find the usage.
import { goQuote } from '../util/go-quote.ts';

// cobra's SuggestionsMinimumDistance default
const MAX_DISTANCE = 2;

export class UnknownCommandError extends Error {
  // The command whose subcommand was mistyped ("kamal-proxy", "kamal-proxy
  // rollout"): the usage hint names it.
  readonly commandPath: string;

  constructor(typed: string, commandPath: string, names: readonly string[]) {
    const suggestions = suggestionsFor(typed, names);
    // As cobra, the suggestions are part of the message (it ends in "\n").
    const tail = suggestions.length === 0 ? '' : `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join('')}`;
    super(`unknown command ${goQuote(typed)} for ${goQuote(commandPath)}${tail}`);
    this.commandPath = commandPath;
  }
}

// Every name within MAX_DISTANCE edits of what was typed, or starting with it,
// case ignored, in the order given (cobra's SuggestionsFor).
function suggestionsFor(typed: string, names: readonly string[]): string[] {
  const lower = typed.toLowerCase();
  return names.filter((name) => name.toLowerCase().startsWith(lower) || levenshtein(lower, name.toLowerCase()) <= MAX_DISTANCE);
}

// Over UTF-8 bytes, as cobra's ld().
function levenshtein(a: string, b: string): number {
  const s = Buffer.from(a);
  const t = Buffer.from(b);
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = previous[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[t.length]!;
}
