// `kamal-proxy list` (alias `ls`): a table for people, styled as kamal-proxy's.
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { ListEntry } from '../control/protocol.ts';
import type { Command } from './command.ts';

const HEADER_STYLE = '\x1b[3;94m'; // italic bright blue
const FIRST_COLUMN_STYLE = '\x1b[1;34m'; // bold blue
const RESET = '\x1b[0m';

// kamal-proxy's columns; a Nap column is added only when some service naps,
// so the output is unchanged for everyone else.
export function formatList(entries: readonly ListEntry[]): string {
  const naps = entries.some((e) => e.nap !== '');
  const rows = entries.map((e) => {
    const row = [e.service, e.hosts.map((h) => (h === '' ? '*' : h)).join(','), e.paths.join(','), e.targets.join(','), e.state, e.tls ? 'yes' : 'no'];
    return naps ? [...row, e.nap || '-'] : row;
  });
  const header = ['Service', 'Host', 'Path', 'Target', 'State', 'TLS', ...(naps ? ['Nap'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const cell = (text: string, i: number, style: string) =>
    (style ? style + text + RESET : text) + ' '.repeat(widths[i]! - text.length);
  const lines = [header.map((h, i) => cell(h, i, HEADER_STYLE)).join('')];
  for (const r of rows) lines.push(r.map((c, i) => cell(c, i, i === 0 ? FIRST_COLUMN_STYLE : '')).join(''));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

export const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  summary: 'List the services currently deployed',
  usage: 'list',
  args: 0,
  flags: [],
  async action() {
    process.stdout.write(formatList(await call(socketPath(), 'list', {})));
    return 0;
  },
};
