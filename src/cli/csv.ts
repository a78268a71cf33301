// Go's encoding/csv, as far as pflag's string-slice flags use it: one record
// read with default Reader settings, and one written as Writer would. pflag
// parses `--host a,b` with the reader and prints slice defaults with the writer.

// Reads the first record of `text` the way Go's encoding/csv Reader.Read does
// with default settings; errors carry Go's messages (columns are 1-based bytes).
export function readCsvRecord(text: string): string[] {
  let unread = text;
  let lineNumber = 0;
  const readLine = (): string | undefined => {
    if (unread === '') return undefined;
    const nl = unread.indexOf('\n');
    let line = nl < 0 ? unread : unread.slice(0, nl + 1);
    unread = nl < 0 ? '' : unread.slice(nl + 1);
    lineNumber++;
    if (nl < 0 && line.endsWith('\r')) line = line.slice(0, -1);
    else if (line.endsWith('\r\n')) line = `${line.slice(0, -2)}\n`;
    return line;
  };
  const parseError = (start: number, line: number, column: number, what: string): Error =>
    new Error(
      start === line
        ? `parse error on line ${line}, column ${column}: ${what}`
        : `record on line ${start}; parse error on line ${line}, column ${column}: ${what}`,
    );
  const BARE_QUOTE = 'bare " in non-quoted-field';
  const QUOTE = 'extraneous or missing " in quoted-field';

  let line = readLine();
  while (line === '' || line === '\n') line = readLine(); // blank lines are skipped
  if (line === undefined) throw new Error('EOF');

  const startLine = lineNumber;
  let posLine = lineNumber;
  let col = 1;
  const fields: string[] = [];
  for (;;) {
    if (line[0] !== '"') {
      const comma = line.indexOf(',');
      const field = comma >= 0 ? line.slice(0, comma) : line.endsWith('\n') ? line.slice(0, -1) : line;
      const quote = field.indexOf('"');
      if (quote >= 0) throw parseError(startLine, lineNumber, col + byteLength(field.slice(0, quote)), BARE_QUOTE);
      fields.push(field);
      if (comma < 0) return fields;
      line = line.slice(comma + 1);
      col += byteLength(field) + 1;
      continue;
    }

    line = line.slice(1);
    col += 1;
    let field = '';
    for (;;) {
      const quote = line.indexOf('"');
      if (quote >= 0) {
        field += line.slice(0, quote);
        col += byteLength(line.slice(0, quote)) + 1;
        line = line.slice(quote + 1);
        if (line[0] === '"') {
          field += '"';
          line = line.slice(1);
          col += 1;
        } else if (line[0] === ',') {
          line = line.slice(1);
          col += 1;
          fields.push(field);
          break;
        } else if (line === '' || line === '\n') {
          fields.push(field);
          return fields;
        } else {
          throw parseError(startLine, lineNumber, col - 1, QUOTE);
        }
      } else if (line !== '') {
        // A quoted field may run over several lines.
        field += line;
        col += byteLength(line);
        line = readLine() ?? '';
        if (line !== '') {
          posLine++;
          col = 1;
        }
      } else {
        throw parseError(startLine, posLine, col, QUOTE);
      }
    }
  }
}

// encoding/csv Writer output for one record, as pflag shows slice defaults.
export function writeCsvRecord(fields: readonly string[]): string {
  return fields
    .map((field) => {
      const quote = field !== '' && (field === '\\.' || /[",\r\n]/.test(field) || /^\p{White_Space}/u.test(field));
      return quote ? `"${field.replaceAll('"', '""')}"` : field;
    })
    .join(',');
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
