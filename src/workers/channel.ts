// Requests and answers between the main thread and a data-plane worker, over
// the worker's message port: each side posts plain messages, and may ask
// something of the other and await the answer (matched by id). An answer
// that never comes (the worker died) rejects when the channel closes.
import type { MessagePort, Worker } from 'node:worker_threads';

type Port = Pick<MessagePort | Worker, 'postMessage' | 'on'>;

export interface Envelope {
  t: string;
  id?: number;
}

// A message as its sender writes it; the channel adds the id.
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Answer {
  t: 'answer';
  id: number;
  value?: unknown;
  error?: string;
}

export class Channel<In extends Envelope, Out extends Envelope> {
  readonly #port: Port;
  readonly #asked = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;
  #closed = false;

  // handle: a message from the other side; its result (awaited) is the
  // answer when the message was a request (has an id).
  constructor(port: Port, handle: (message: In) => unknown) {
    this.#port = port;
    port.on('message', (m: In | Answer) => {
      if (m.t === 'answer') return this.#answered(m as Answer);
      const id = m.id;
      if (id === undefined) return void handle(m as In);
      Promise.resolve()
        .then(() => handle(m as In))
        .then(
          (value) => this.#post({ t: 'answer', id, value }),
          (err: Error) => this.#post({ t: 'answer', id, error: err.message }),
        );
    });
  }

  post(message: Out, transfer?: ArrayBuffer[]): void {
    this.#post(message, transfer);
  }

  ask<T>(message: WithoutId<Out>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('worker gone'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#asked.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#post({ ...message, id } as Out);
    });
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#asked.values()) a.reject(new Error('worker gone'));
    this.#asked.clear();
  }

  #post(message: Out | Answer, transfer?: ArrayBuffer[]): void {
    if (!this.#closed) this.#port.postMessage(message, transfer);
  }

  #answered(m: Answer): void {
    const asked = this.#asked.get(m.id);
    if (asked === undefined) return;
    this.#asked.delete(m.id);
    if (m.error !== undefined) asked.reject(new Error(m.error));
    else asked.resolve(m.value);
  }
}
