// The client verbs, which talk to a running proxy over its control socket.
// src/cli/cli.ts loads this module only when one of them (or help) runs.
export { deployCommand } from './deploy.ts';
export { listCommand } from './list.ts';
export { pauseCommand, resumeCommand, stopCommand } from './maintenance.ts';
export { napCommand, statusCommand, stopAllCommand, wakeCommand } from './napping.ts';
export { removeCommand } from './remove.ts';
export { rolloutGroup } from './rollout.ts';
