// `kamal-proxy list` (alias `ls`): a table for people, styled as kamal-proxy's.
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { ListEntry } from '../control/protocol.ts';
import type { Command } from './command.ts';
import { formatTable } from './table.ts';

// kamal-proxy's columns; a Nap column is added only when some service naps,
// so the output is unchanged for everyone else.
function formatList(entries: readonly ListEntry[]): string {
  const naps = entries.some((e) => e.nap !== '');
  const rows = entries.map((e) => {
    const row = [e.service, e.hosts.map((h) => (h === '' ? '*' : h)).join(','), e.paths.join(','), e.targets.join(','), e.state, e.tls ? 'yes' : 'no'];
    return naps ? [...row, e.nap || '-'] : row;
  });
  const header = ['Service', 'Host', 'Path', 'Target', 'State', 'TLS', ...(naps ? ['Nap'] : [])];
  return formatTable(header, rows, true);
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
