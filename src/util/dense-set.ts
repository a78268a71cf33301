// A set for objects that come and go all the time (requests in flight, open
// connections): the members sit in an array and each one carries its index,
// so add and delete are O(1) and allocate nothing once the array has grown to
// the working size.
//
// Why not a Set: under churn V8 rebuilds a Set's hash table every few hundred
// insertions, and each replaced table keeps a pointer to its successor (for
// iterators still walking it) and its entries as they were. Once one table
// is in the old generation (a mark-compact promotes every live young object)
// it is garbage that no scavenge looks at, yet it keeps the next table alive,
// that one the next, and each holds the requests that were in flight when it
// was made. Under load every request's objects were promoted until the next
// mark-compact, which promoted the table of the day and started it over:
// 300 KB per scavenge instead of 0.1 KB, 10–20% fewer requests/s and 40 MiB
// more RSS after a load (bench/README.md, "Memory").
//
// A member belongs to one DenseSet at a time (its index lives on it).
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
