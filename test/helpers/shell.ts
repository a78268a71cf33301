// Splits a command line the way a POSIX shell does for the simple forms Kamal
// emits (words, "double quotes", 'single quotes', backslash escapes), so tests
// can replay Kamal's exact lines.
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++;
        word += line[i];
      }
    } else if (c === "'") {
      inWord = true;
      for (i++; i < line.length && line[i] !== "'"; i++) word += line[i];
    } else if (c === '\\') {
      inWord = true;
      word += line[++i] ?? '';
    } else {
      inWord = true;
      word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}
