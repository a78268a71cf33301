// `rollout deploy | set | stop`: a cookie-based canary beside the active targets.
import * as d from '../config/defaults.ts';
import { socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import { UsageError } from './command.ts';
import type { Command, CommandGroup } from './command.ts';

const rolloutDeployCommand: Command = {
  name: 'deploy',
  summary: 'Deploy targets for a rollout',
  usage: 'rollout deploy <service>',
  args: 1,
  flags: [
    { name: 'target', type: 'stringSlice', default: [], usage: 'Target host(s) to deploy (required)' },
    { name: 'read-target', type: 'stringSlice', default: [], usage: 'Read-only target host(s) to deploy' },
    { name: 'deploy-timeout', type: 'duration', default: d.DEFAULT_DEPLOY_TIMEOUT_MS, usage: 'Maximum time to wait for the new target to become healthy' },
    { name: 'drain-timeout', type: 'duration', default: d.DEFAULT_DRAIN_TIMEOUT_MS, usage: 'Maximum time to allow existing connections to drain before removing old target' },
  ],
  async action(f) {
    if (!f.given.has('target')) throw new UsageError('required flag(s) "target" not set');
    const v = f.values;
    await call(socketPath(), 'rolloutDeploy', {
      service: f.args[0]!,
      targets: v.target as string[],
      readers: v['read-target'] as string[],
      deployTimeoutMs: v['deploy-timeout'] as number,
      drainTimeoutMs: v['drain-timeout'] as number,
    });
    return 0;
  },
};

const rolloutSetCommand: Command = {
  name: 'set',
  summary: 'Set traffic split for a rollout',
  usage: 'rollout set <service>',
  args: 1,
  flags: [
    { name: 'percent', type: 'int', default: 0, usage: 'Percentage of requests to send to new version' },
    { name: 'list', type: 'stringSlice', default: [], usage: 'List of cookie values to send to new version' },
  ],
  async action(f) {
    if (!f.given.has('percent') && !f.given.has('list')) {
      throw new UsageError('at least one of the flags in the group [percent list] is required');
    }
    await call(socketPath(), 'rolloutSet', { service: f.args[0]!, percentage: f.values.percent as number, allowlist: f.values.list as string[] });
    return 0;
  },
};

const rolloutStopCommand: Command = {
  name: 'stop',
  summary: 'Stop a rollout',
  usage: 'rollout stop <service>',
  args: 1,
  flags: [],
  async action(f) {
    await call(socketPath(), 'rolloutStop', { service: f.args[0]! });
    return 0;
  },
};

export const rolloutGroup: CommandGroup = {
  name: 'rollout',
  summary: 'Manage a cookie-based rollout (deploy, set, stop)',
  commands: [rolloutDeployCommand, rolloutSetCommand, rolloutStopCommand],
};
