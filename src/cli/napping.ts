// The original Kamal Napper's commands, talking to the running proxy:
// `status`, `wake SERVICE`, `nap SERVICE`, `stop-all`.
import { formatGoDuration } from '../util/go-duration.ts';
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { NapStatusEntry, NapStatusReply, UnsavedState } from '../control/protocol.ts';
import type { Command } from './command.ts';
import { formatTable } from './table.ts';

// An unsaved state comes first: a restart would lose what it lacks.
function formatStatus(reply: NapStatusReply, now = Date.now()): string {
  return formatUnsaved(reply.unsavedState) + formatServices(reply.services, now);
}

function formatUnsaved(unsaved: UnsavedState | null): string {
  if (unsaved === null) return '';
  return `Warning: state not saved since ${new Date(unsaved.sinceMs).toISOString()}: ${unsaved.error}\n`;
}

function formatServices(entries: readonly NapStatusEntry[], now: number): string {
  if (entries.length === 0) return 'No service naps. Deploy with --idle-timeout, --nap-command or --nap-container.\n';
  const rows = entries.map((e) => [
    e.service,
    e.state,
    String(e.active),
    `${formatGoDuration(Math.round((now - e.lastActivityMs) / 1000) * 1000)} ago`,
    e.idleTimeoutMs === 0 ? 'never' : formatGoDuration(e.idleTimeoutMs),
    String(e.wakes),
    e.runtime,
  ]);
  const header = ['Service', 'State', 'Active', 'Last activity', 'Idle timeout', 'Wakes', 'Runtime'];
  return formatTable(header, rows, false);
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show every napping service (state, activity, idle timeout, wakes), and whether the state is saved',
  usage: 'status',
  args: 0,
  flags: [],
  async action() {
    process.stdout.write(formatStatus(await call(socketPath(), 'napStatus', {})));
    return 0;
  },
};

export const wakeCommand: Command = {
  name: 'wake',
  summary: 'Start a napping service now and wait until it is ready',
  usage: 'wake <service>',
  args: 1,
  flags: [],
  async action(f) {
    await call(socketPath(), 'napWake', { service: f.args[0]! });
    return 0;
  },
};

export const napCommand: Command = {
  name: 'nap',
  summary: 'Stop a napping service now (the next request wakes it)',
  usage: 'nap <service>',
  args: 1,
  flags: [],
  async action(f) {
    await call(socketPath(), 'napNap', { service: f.args[0]! });
    return 0;
  },
};

export const stopAllCommand: Command = {
  name: 'stop-all',
  summary: 'Stop every napping service now',
  usage: 'stop-all',
  args: 0,
  flags: [],
  async action() {
    const stopped = await call(socketPath(), 'napStopAll', {});
    process.stdout.write(stopped.length === 0 ? 'No service naps.\n' : `Napping: ${stopped.join(', ')}\n`);
    return 0;
  },
};
