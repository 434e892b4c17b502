// A sorted address → symbol table shared by the ELF, kallsyms and perf-map readers.
// Addresses are stored as Float64 offsets from a BigInt base: exact below 2^53, and sorting plain numbers is an
// order of magnitude cheaper than sorting BigInts (a large binary holds 100k+ symbols).

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Overlapping symbols (nested functions, reused JIT ranges) are searched this far back, so lookups stay O(log n). */
const MAX_WALK_BACK = 8;

export interface SymbolIndexOptions {
  /** Subtracted from every address; lets 64-bit kernel addresses fit in the exact range of a double. */
  base?: bigint;
  /** A size-0 symbol covers addresses up to the next symbol, but never more than this many bytes. */
  maxSizelessSpan?: number;
  /** Upper bound on symbols kept; extra `add` calls are counted in `dropped`. */
  maxSymbols?: number;
}

/** Collects symbols in any order; `build()` sorts them and keeps the best-ranked symbol per address. */
export class SymbolIndexBuilder {
  private addrs: number[] = [];
  private sizes: number[] = [];
  private refs: number[] = [];
  private ranks: number[] = [];
  readonly base: bigint;
  readonly maxSymbols: number;
  dropped = 0;

  constructor(private readonly options: SymbolIndexOptions = {}) {
    this.base = options.base ?? 0n;
    this.maxSymbols = options.maxSymbols ?? 2_000_000;
  }

  /** True once `maxSymbols` symbols are held; further adds are dropped. */
  get full(): boolean {
    return this.addrs.length >= this.maxSymbols;
  }

  get count(): number {
    return this.addrs.length;
  }

  /** `ref` is an opaque name reference resolved later by the index's name function; higher `rank` wins ties. */
  add(address: bigint, size: number, ref: number, rank: number): boolean {
    const off = address - this.base;
    if (off < 0n || off > MAX_SAFE || this.addrs.length >= this.maxSymbols || !(size >= 0)) {
      this.dropped++;
      return false;
    }
    this.addrs.push(Number(off));
    this.sizes.push(Math.min(size, Number.MAX_SAFE_INTEGER));
    this.refs.push(ref);
    this.ranks.push(rank);
    return true;
  }

  /** `add` for an address already relative to `base`, as a number (exact below 2^53). */
  addOffset(offset: number, size: number, ref: number, rank: number): boolean {
    if (!(offset >= 0 && offset <= Number.MAX_SAFE_INTEGER) || this.addrs.length >= this.maxSymbols || !(size >= 0)) {
      this.dropped++;
      return false;
    }
    this.addrs.push(offset);
    this.sizes.push(Math.min(size, Number.MAX_SAFE_INTEGER));
    this.refs.push(ref);
    this.ranks.push(rank);
    return true;
  }

  build(nameOf: (ref: number) => string): SymbolIndex {
    const n = this.addrs.length;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const { addrs, ranks } = this;
    order.sort((a, b) => addrs[a] - addrs[b] || ranks[b] - ranks[a] || a - b);
    // Keep one symbol per address: the first after sorting is the best ranked.
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0 && addrs[order[i]] === addrs[order[i - 1]]) continue;
      order[kept++] = order[i];
    }
    const outAddr = new Float64Array(kept);
    const outSize = new Float64Array(kept);
    const outRef = new Float64Array(kept);
    for (let i = 0; i < kept; i++) {
      const j = order[i];
      outAddr[i] = addrs[j];
      outSize[i] = this.sizes[j];
      outRef[i] = this.refs[j];
    }
    this.addrs = this.sizes = this.refs = this.ranks = [];
    return new SymbolIndex(this.base, outAddr, outSize, outRef, nameOf, this.options.maxSizelessSpan ?? Infinity);
  }
}

export interface SymbolHit {
  name: string;
  /** Start address of the symbol (same space as the lookup address). */
  address: bigint;
  /** Size in bytes; 0 when the table did not say. */
  size: number;
  /** The opaque reference given to `add`. */
  ref: number;
}

export class SymbolIndex {
  constructor(
    readonly base: bigint,
    private readonly addrs: Float64Array,
    private readonly sizes: Float64Array,
    private readonly refs: Float64Array,
    private readonly nameOf: (ref: number) => string,
    private readonly maxSizelessSpan: number,
  ) {}

  get length(): number {
    return this.addrs.length;
  }

  /** Lowest and highest symbol start, or undefined when empty. */
  get range(): { min: bigint; max: bigint } | undefined {
    const n = this.addrs.length;
    if (n === 0) return undefined;
    return { min: this.base + BigInt(this.addrs[0]), max: this.base + BigInt(this.addrs[n - 1]) };
  }

  /** The symbol covering `address`, or undefined (gap, before the first symbol, or past a sized symbol's end). */
  lookup(address: bigint): SymbolHit | undefined {
    const rel = address - this.base;
    if (rel < 0n || rel > MAX_SAFE) return undefined;
    const off = Number(rel);
    const a = this.addrs;
    let lo = 0;
    let hi = a.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] <= off) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    // A sized symbol that covers the address beats a size-0 label that merely precedes it.
    for (let i = found, steps = 0; i >= 0 && steps < MAX_WALK_BACK; i--, steps++) {
      if (this.sizes[i] > 0 && off < a[i] + this.sizes[i]) return this.hit(i);
    }
    if (this.sizes[found] === 0 && off - a[found] < this.maxSizelessSpan) return this.hit(found);
    return undefined;
  }

  private hit(i: number): SymbolHit {
    return {
      name: this.nameOf(this.refs[i]),
      address: this.base + BigInt(this.addrs[i]),
      size: this.sizes[i],
      ref: this.refs[i],
    };
  }
}
