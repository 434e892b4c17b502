// Where each file's rows live in the kernel's one rows array: a first-fit allocator over [0, capacity) with
// least-recently-used eviction of files no live process maps. Pure bookkeeping: the caller writes the rows.

export interface RowRange {
  first: number;
  count: number;
}

export class RowAllocator {
  readonly capacity: number;
  /** Free ranges sorted by `first`, never adjacent (merged on free). */
  private free: RowRange[];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.free = capacity > 0 ? [{ first: 0, count: capacity }] : [];
  }

  /** First-fit; undefined when no free range is large enough. */
  allocate(count: number): RowRange | undefined {
    if (count <= 0) return { first: 0, count: 0 };
    const i = this.free.findIndex((r) => r.count >= count);
    if (i < 0) return undefined;
    const r = this.free[i];
    const out = { first: r.first, count };
    if (r.count === count) this.free.splice(i, 1);
    else this.free[i] = { first: r.first + count, count: r.count - count };
    return out;
  }

  release(range: RowRange): void {
    if (range.count <= 0) return;
    let i = 0;
    while (i < this.free.length && this.free[i].first < range.first) i++;
    this.free.splice(i, 0, { ...range });
    // Merge with the neighbours.
    if (i + 1 < this.free.length && this.free[i].first + this.free[i].count === this.free[i + 1].first) {
      this.free[i].count += this.free[i + 1].count;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].first + this.free[i - 1].count === this.free[i].first) {
      this.free[i - 1].count += this.free[i].count;
      this.free.splice(i, 1);
    }
  }

  get freeRows(): number {
    return this.free.reduce((n, r) => n + r.count, 0);
  }

  get largestFree(): number {
    return this.free.reduce((n, r) => Math.max(n, r.count), 0);
  }
}
