// Our deploy flags, declared once. The CLI builds its `deploy` flags from this
// table, and a Kamal app container sets the same flag with a label
// `kamal-napper.<flag>` (nap-labels.ts), because Kamal only ever sends
// kamal-proxy's own flags.
import * as d from '../config/defaults.ts';
import type { NapOptions } from '../config/nap-options.ts';

export type NapFlagType = 'duration' | 'string' | 'bool';

export interface NapFlagSpec {
  name: string; // the flag, without `--`
  key: keyof NapOptions;
  type: NapFlagType;
  default: number | string | boolean; // what `--help` shows; "not given" still defers to labels and config
  usage: string;
  label: boolean; // may be set by a container label (not flags that name another app to run)
}

export const NAP_FLAGS: readonly NapFlagSpec[] = [
  { name: 'idle-timeout', key: 'idleTimeoutMs', type: 'duration', default: 0, label: true, usage: 'Stop the app after this long without requests (0: never; default: the napping config, 15m)' },
  { name: 'wake-timeout', key: 'wakeTimeoutMs', type: 'duration', default: d.DEFAULT_NAP_WAKE_TIMEOUT_MS, label: true, usage: 'Longest wait for a napping app to start and become healthy' },
  { name: 'nap-container', key: 'container', type: 'string', default: '', label: false, usage: "Container to stop and start (default: each target's host, a container ID under Kamal)" },
  { name: 'nap-command', key: 'command', type: 'string', default: '', label: false, usage: 'Shell command that runs the app as a local process (stopped with SIGTERM)' },
  { name: 'nap-group', key: 'group', type: 'bool', default: false, label: true, usage: "Also stop and start the other roles' containers of the same Kamal service and destination" },
];

export const LABEL_PREFIX = 'kamal-napper.';
