// The state file as the router keeps it. A command that changes a service
// checks first that the state can be written, so it fails while nothing has
// changed (Kamal stops the new container when a deploy fails, so failing
// after the swap would take down what already serves); the save after the
// change never fails the command: a failure is logged and kept, for
// `kamal-napper status`, until a save succeeds.
import { log } from '../log/logger.ts';
import type { ServiceState } from '../config/service-options.ts';
import { checkStateWritable, loadStateFile, saveStateFile } from './state-file.ts';

// Since the first of a run of failed saves: the change took effect, but the
// state file does not have it (a restart would lose it). `error` is the
// latest failure. Gone after the next good save.
export interface UnsavedState {
  sinceMs: number; // epoch ms
  error: string;
}

export class StateKeeper {
  readonly path: string;
  #unsaved: UnsavedState | null = null;

  constructor(path: string) {
    this.path = path;
  }

  // Null while the state file has every change.
  get unsaved(): UnsavedState | null {
    return this.#unsaved;
  }

  load(): ReturnType<typeof loadStateFile> {
    return loadStateFile(this.path);
  }

  // Refuses the command, naming the path, the cause and the remedy.
  async checkWritable(): Promise<void> {
    try {
      await checkStateWritable(this.path);
    } catch (err) {
      log.error('Command refused: state cannot be saved', { path: this.path, error: (err as Error).message });
      throw err;
    }
  }

  // Never rejects: by now the change has taken effect.
  async save(states: ServiceState[]): Promise<void> {
    try {
      await saveStateFile(this.path, states);
    } catch (err) {
      const error = (err as Error).message;
      log.error('Failed to save state', { path: this.path, error });
      this.#unsaved = { sinceMs: this.#unsaved?.sinceMs ?? Date.now(), error };
      return;
    }
    if (this.#unsaved !== null) log.info('Saved state again', { path: this.path, since: new Date(this.#unsaved.sinceMs).toISOString() });
    this.#unsaved = null;
  }
}
