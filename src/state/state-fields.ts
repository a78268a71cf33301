// Typed, path-aware reads from one object of kamal-proxy's state file (see
// state-codec.ts), and the wire form of each deploy option type. Kept apart
// from the codec so the field list there reads like the wire format and
// nothing else.
import type { OptionType, OptionTypeValues, OptionWireValues } from '../config/deploy-options.ts';

// Go's time.Duration counts nanoseconds; ours are milliseconds.
export const NS_PER_MS = 1_000_000;

// A bad value in one service entry; the decoder drops that entry and reports it.
export class FieldError extends Error {}

export type JsonObject = Record<string, unknown>;

// Typed access to one JSON object. Like Go's decoder, a missing key and an
// explicit null both leave the default in place, and unknown keys are ignored;
// a value of the wrong type is an error naming its path.
export class Fields {
  readonly #object: JsonObject;
  readonly #path: string;

  constructor(value: unknown, path: string) {
    if (value === undefined || value === null) {
      this.#object = {};
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      this.#object = value as JsonObject;
    } else {
      throw new FieldError(`${path || 'service'}: expected an object, got ${kindOf(value)}`);
    }
    this.#path = path;
  }

  has(key: string): boolean {
    return this.#value(key) !== undefined;
  }

  object(key: string): Fields {
    return new Fields(this.#value(key), this.#where(key));
  }

  string(key: string, fallback: string): string {
    return this.#read(key, fallback, 'a string', (v) => typeof v === 'string');
  }

  bool(key: string, fallback: boolean): boolean {
    return this.#read(key, fallback, 'true or false', (v) => typeof v === 'boolean');
  }

  // Go's int and int64 fields reject fractions.
  int(key: string, fallback: number): number {
    return this.#read(key, fallback, 'an integer', (v) => Number.isInteger(v));
  }

  number(key: string, fallback: number): number {
    return this.#read(key, fallback, 'a number', (v) => typeof v === 'number');
  }

  durationMs(key: string, fallbackMs: number): number {
    const value = this.#value(key);
    if (value === undefined) return fallbackMs;
    if (!Number.isInteger(value)) {
      throw new FieldError(`${this.#where(key)}: expected integer nanoseconds, got ${kindOf(value)}`);
    }
    return (value as number) / NS_PER_MS;
  }

  strings(key: string): string[] {
    const value = this.#value(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new FieldError(`${this.#where(key)}: expected a list of strings, got ${kindOf(value)}`);
    return value.map((item: unknown, i) => {
      if (typeof item !== 'string') throw new FieldError(`${this.#where(key)}[${i}]: expected a string, got ${kindOf(item)}`);
      return item;
    });
  }

  #read<T>(key: string, fallback: T, expected: string, ok: (v: unknown) => boolean): T {
    const value = this.#value(key);
    if (value === undefined) return fallback;
    if (!ok(value)) throw new FieldError(`${this.#where(key)}: expected ${expected}, got ${kindOf(value)}`);
    return value as T;
  }

  #value(key: string): unknown {
    const value = Object.hasOwn(this.#object, key) ? this.#object[key] : undefined;
    return value === null ? undefined : value;
  }

  #where(key: string): string {
    return this.#path ? `${this.#path}.${key}` : key;
  }
}

// One option's value in the state file, by its type (deploy-options.ts).
interface WireCodec<T extends OptionType> {
  encode(value: OptionTypeValues[T]): OptionWireValues[T];
  decode(fields: Fields, key: string, fallback: OptionTypeValues[T]): OptionTypeValues[T];
}

const WIRE_CODECS: { [T in OptionType]: WireCodec<T> } = {
  bool: { encode: (v) => v, decode: (f, key, fallback) => f.bool(key, fallback) },
  string: { encode: (v) => v, decode: (f, key, fallback) => f.string(key, fallback) },
  int: { encode: (v) => v, decode: (f, key, fallback) => f.int(key, fallback) },
  int64: { encode: (v) => v, decode: (f, key, fallback) => f.int(key, fallback) },
  duration: { encode: ns, decode: (f, key, fallback) => f.durationMs(key, fallback) },
  stringSlice: { encode: list, decode: (f, key, fallback) => (f.has(key) ? f.strings(key) : [...fallback]) },
};

// `value` is the options field that a row of this type names (the interfaces
// are checked against the table where they are declared).
export function encodeOption<T extends OptionType>(type: T, value: unknown): OptionWireValues[T] {
  const codec: WireCodec<T> = WIRE_CODECS[type];
  return codec.encode(value as OptionTypeValues[T]);
}

export function decodeOption<T extends OptionType>(type: T, fields: Fields, key: string, fallback: OptionTypeValues[T]): OptionTypeValues[T] {
  const codec: WireCodec<T> = WIRE_CODECS[type];
  return codec.decode(fields, key, fallback);
}

// Empty lists come from unset CLI flags, which Go keeps as nil slices: null.
export function list(values: readonly string[]): string[] | null {
  return values.length > 0 ? [...values] : null;
}

export function ns(ms: number): number {
  // JSON.stringify would turn NaN/Infinity into null, which reads back as a
  // default: refuse to write a file that does not say what we meant.
  if (!Number.isFinite(ms)) throw new RangeError(`cannot encode duration ${ms} ms`);
  return Math.round(ms * NS_PER_MS);
}

// How a value of the wrong type is named in an error message.
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number') return `number ${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}
