// `pause`, `stop` and `resume`: maintenance of a running service. Kamal's
// `kamal app maintenance` / `kamal app live` run `stop` / `resume`.
import * as d from '../config/defaults.ts';
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { Command } from './command.ts';

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'Pause a service',
  usage: 'pause <service>',
  args: 1,
  flags: [
    { name: 'drain-timeout', type: 'duration', default: d.DEFAULT_DRAIN_TIMEOUT_MS, usage: 'Amount of time to wait for requests to complete before pausing' },
    { name: 'max-pause', type: 'duration', default: d.DEFAULT_MAX_PAUSE_MS, usage: 'Maximum time to pause for' },
  ],
  async action(f) {
    const v = f.values;
    await call(socketPath(), 'pause', { service: f.args[0]!, drainTimeoutMs: v['drain-timeout'] as number, maxPauseMs: v['max-pause'] as number });
    return 0;
  },
};

export const stopCommand: Command = {
  name: 'stop',
  summary: 'Stop a service',
  usage: 'stop <service>',
  args: 1,
  flags: [
    { name: 'drain-timeout', type: 'duration', default: d.DEFAULT_DRAIN_TIMEOUT_MS, usage: 'Amount of time to wait for requests to complete before stopping' },
    { name: 'message', type: 'string', default: '', usage: 'Message to show on the error page' },
  ],
  async action(f) {
    const v = f.values;
    await call(socketPath(), 'stop', { service: f.args[0]!, drainTimeoutMs: v['drain-timeout'] as number, message: v.message as string });
    return 0;
  },
};

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'Resume a service',
  usage: 'resume <service>',
  args: 1,
  flags: [],
  async action(f) {
    await call(socketPath(), 'resume', { service: f.args[0]! });
    return 0;
  },
};
