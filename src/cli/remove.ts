// `kamal-proxy remove <service>` (alias `rm`).
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { Command } from './command.ts';

export const removeCommand: Command = {
  name: 'remove',
  aliases: ['rm'],
  summary: 'Remove the service',
  usage: 'remove <service>',
  args: 1,
  flags: [],
  async action(f) {
    await call(socketPath(), 'remove', { service: f.args[0]! });
    return 0;
  },
};
