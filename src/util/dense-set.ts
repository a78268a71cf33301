// A set for objects that come and go all the time (requests in flight, open
// connections): members sit in an array and carry their index, so add and
// delete allocate nothing. Not a Set: under churn V8 replaces a Set's hash
// table, each old table keeps its successor alive, and once one is in the old
// generation the chain promotes every request in flight (bench/README.md,
// "The promotion regime"). A member belongs to one DenseSet at a time.
export const denseSlot = Symbol('kamal-napper.dense-set-slot');

export interface DenseSetMember {
  [denseSlot]?: number | undefined;
}

export class DenseSet<T extends DenseSetMember> implements Iterable<T> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  has(item: T): boolean {
    const i = item[denseSlot];
    return i !== undefined && this.#items[i] === item;
  }

  add(item: T): void {
    if (this.has(item)) return;
    if (item[denseSlot] !== undefined) throw new Error('already a member of another DenseSet');
    item[denseSlot] = this.#items.length;
    this.#items.push(item);
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const items = this.#items;
    const i = item[denseSlot]!;
    const last = items.pop()!;
    if (last !== item) {
      items[i] = last;
      last[denseSlot] = i;
    }
    item[denseSlot] = undefined;
    return true;
  }

  // A copy: callers cancel or close members while they walk, and those leave.
  values(): T[] {
    return this.#items.slice();
  }

  [Symbol.iterator](): Iterator<T> {
    return this.values()[Symbol.iterator]();
  }
}
