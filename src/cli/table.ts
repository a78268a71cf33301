// Tables for people, as kamal-proxy's `list` prints them: every cell padded
// to its column's width plus two spaces; the header in italic bright blue and
// the first column in bold blue when styled.
const HEADER_STYLE = '\x1b[3;94m';
const FIRST_COLUMN_STYLE = '\x1b[1;34m';
const RESET = '\x1b[0m';

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], styled: boolean): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const cell = (text: string, i: number, style: string) =>
    (styled && style ? style + text + RESET : text) + ' '.repeat(widths[i]! - text.length);
  const lines = [header.map((h, i) => cell(h, i, HEADER_STYLE)).join('')];
  for (const r of rows) lines.push(r.map((c, i) => cell(c, i, i === 0 ? FIRST_COLUMN_STYLE : '')).join(''));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
