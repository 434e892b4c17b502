// Folding retained windows for the UI's flamegraph and top table without a pprof profile in between (issue 13
// item 5: encoding a busy hour as pprof, decoding it in the render worker and folding the decoded profile took
// most of a page load). The main thread sums the windows by stack and label set id (merge-stored.ts), names each
// distinct frame once, and hands the worker a StoredFold: typed arrays of name ids, a handful of strings. The
// worker turns it into the same FoldedStack[] collapsePprofDetailed gives for the selection's pprof profile
// (what /debug/pprof/* and "download pprof" serve), frame for frame and in the same order. That equality is
// the contract: frames are named and classified as the pprof encoder and the collapser together would
// (unsymbolized frames by their file offset in the mapping the encoder would write), and it is tested against
// the pprof path (fold-stored.test.ts). Pure: no I/O.
import { KERNEL_MAPPING_FILE, type ProfileFrame, type ProfileMapping, type ValueTypeSpec } from '../../exporters/pprof/index.js';
import { classifyFrame, type FoldedStack, type Frame, type FrameKind } from '../../flamegraph/index.js';
import { sumStoredSteps, type StoredSelection, type SummedStored } from './merge-stored.js';
import type { LabelSet } from './stack-catalog.js';

/** Summed entries folded between yields (a new stack costs a pass over its frames). */
const ENTRIES_PER_STEP = 2048;

/** Frames kept per stack, as collapsePprofDetailed keeps them by default. */
export const FOLD_MAX_DEPTH = 1024;

const KINDS: readonly FrameKind[] = ['kernel', 'native', 'jit', 'unknown'];

/**
 * A selection folded down to ids, as the main thread sends it to the render worker (structured clone copies
 * the arrays; the main thread keeps its copy for the next request of the same view).
 */
export interface StoredFold {
  /** The sample type shown (the profile's default, else its last), and its unit. */
  sampleType: ValueTypeSpec;
  /** Frame names by id, each with its kind (index into KINDS). Process root names (`comm-pid`) are among them. */
  names: string[];
  kinds: Uint8Array;
  /** Distinct stacks: stack s is frames[stackStart[s] .. stackStart[s + 1]), name ids root first. */
  stackStart: Uint32Array;
  frames: Uint32Array;
  /** Per entry (a stack and label set of the selection): its stack, its process root name id or -1, its value. */
  entryStack: Uint32Array;
  entryRoot: Int32Array;
  entryValue: Float64Array;
  /** Entries whose stack or labels left the catalog while the fold was built (their windows were dropped). */
  samplesGone: number;
}

/** Bytes a StoredFold holds, roughly (for the bound on kept builds). */
export function storedFoldBytes(f: StoredFold): number {
  let names = 0;
  for (const n of f.names) names += 16 + 2 * n.length;
  return names + f.kinds.byteLength + f.stackStart.byteLength + f.frames.byteLength + f.entryStack.byteLength + f.entryRoot.byteLength + f.entryValue.byteLength;
}

export interface FoldSelection extends StoredSelection {
  defaultSampleType?: string;
}

/** The value pprof readers show by default: the profile's default sample type, else the last one. */
function shownTypeIndex(types: readonly ValueTypeSpec[], defaultType: string | undefined): number {
  const i = defaultType ? types.findIndex((t) => t.type === defaultType) : -1;
  return i >= 0 ? i : types.length - 1;
}

/** As the pprof encoder writes numbers: integers, rounded. */
function toInteger(v: number): number {
  return Number.isInteger(v) ? v : Math.round(v);
}

/** The `comm-pid` root frame's name from a label set, as collapsePprof reads it from the encoded labels. */
export function processRootName(set: LabelSet): string | undefined {
  let comm = '';
  let pid = '';
  // The encoder writes finite numeric labels (keys sorted), then string labels (keys sorted).
  const num = set.numLabels;
  if (num) {
    for (const k of Object.keys(num).sort()) {
      const v = num[k];
      if (k === 'pid' && Number.isFinite(v) && toInteger(v) !== 0) pid = String(toInteger(v));
    }
  }
  const str = set.strLabels;
  if (str) {
    for (const k of Object.keys(str).sort()) {
      if (k === 'comm') comm = str[k] || comm;
      else if (k === 'pid') pid = str[k] || pid;
    }
  }
  if (comm === '' && pid === '') return undefined;
  return comm && pid ? `${comm}-${pid}` : comm || `pid-${pid}`;
}

/**
 * Where the pprof encoder would place a mapping (file and build-id): the lowest start among the mapping objects
 * it meets, with that object's file offset. Unsymbolized frames are named by their offset from it.
 */
interface MappingPlace {
  start: bigint;
  offset: bigint;
}

const u64 = (v: bigint) => BigInt.asUintN(64, v);

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/**
 * The fold's state between slices. Its loops are methods, not the generator's: V8 does not optimize a loop
 * while it runs inside a generator (no on-stack replacement), and each request calls the generator once.
 */
class Folder {
  readonly names: string[] = [];
  private readonly kindOf: number[] = [];
  private readonly nameIds = KINDS.map(() => new Map<string, number>());
  /** Catalog stack id → index of the stack here, or -1 when it was freed. */
  private readonly stackIndex = new Map<number, number>();
  readonly starts: number[] = [0];
  /** Root-first frames of the stacks, as indices into `distinct` (named() turns them into name ids). */
  private seqFrames = new Uint32Array(1 << 16);
  private at = 0;
  private readonly distinct: ProfileFrame[] = [];
  /** Catalog frame id → 1 + index into `distinct` (checked against the frame: freed ids are reused). */
  private byCatalogId = new Int32Array(1 << 12);
  private readonly seenMappings = new Set<ProfileMapping>();
  private readonly places = new Map<string, MappingPlace>();
  /** Label set id → its process root's name id, -1 without one, -2 when the set was freed. */
  private readonly rootOf = new Map<number, number>();
  readonly entryStack: Uint32Array<ArrayBuffer>;
  readonly entryRoot: Int32Array<ArrayBuffer>;
  readonly entryValue: Float64Array<ArrayBuffer>;
  entries = 0;
  gone = 0;

  constructor(
    private readonly catalog: FoldSelection['catalog'],
    private readonly summed: SummedStored,
    private readonly shown: number,
  ) {
    this.entryStack = new Uint32Array(summed.count);
    this.entryRoot = new Int32Array(summed.count);
    this.entryValue = new Float64Array(summed.count);
  }

  /** One id per (name, kind). */
  nameId(name: string, kind: FrameKind): number {
    const k = KINDS.indexOf(kind);
    const byName = this.nameIds[k];
    let id = byName.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.kindOf.push(k);
      byName.set(name, id);
    }
    return id;
  }

  get kinds(): Uint8Array<ArrayBuffer> {
    return Uint8Array.from(this.kindOf);
  }

  /**
   * Pass 1 over summed entries [from, to), in the encoder's order (entries as summed, frames leaf first): the
   * distinct stacks and frames, the mappings' places. A stack's frames are walked at its first entry; entries
   * whose values the encoder refuses (not finite) are not met at all.
   */
  entriesIn(from: number, to: number): void {
    const { catalog, summed } = this;
    const { nTypes, sums } = summed;
    for (let e = from; e < to; e++) {
      const labelId = summed.labels[e];
      let root = this.rootOf.get(labelId);
      if (root === undefined) {
        const set = catalog.labelSet(labelId);
        const name = set ? processRootName(set) : undefined;
        root = set === undefined ? -2 : name === undefined ? -1 : this.nameId(name, 'native');
        this.rootOf.set(labelId, root);
      }
      const stackId = summed.stacks[e];
      let s = this.stackIndex.get(stackId);
      const ids = s === undefined ? catalog.stackFrameIds(stackId) : undefined;
      if (s === -1 || (s === undefined && ids === undefined) || root === -2) {
        if (s === undefined && ids === undefined) this.stackIndex.set(stackId, -1);
        this.gone++;
        continue;
      }
      let finite = true;
      for (let t = 0; t < nTypes; t++) finite &&= Number.isFinite(sums[e * nTypes + t]);
      if (!finite) continue;
      if (s === undefined) s = this.walk(stackId, ids!);
      const n = this.entries++;
      this.entryStack[n] = s;
      this.entryRoot[n] = root;
      this.entryValue[n] = toInteger(sums[e * nTypes + this.shown]);
    }
  }

  private walk(stackId: number, ids: Uint32Array): number {
    const n = ids.length;
    const at = this.at;
    if (at + n > this.seqFrames.length) this.seqFrames = growU32(this.seqFrames, Math.max(this.seqFrames.length * 2, at + n));
    for (let i = 0; i < n; i++) {
      const fid = ids[i];
      if (fid >= this.byCatalogId.length) this.byCatalogId = growI32(this.byCatalogId, Math.max(this.byCatalogId.length * 2, fid + 1));
      const f = this.catalog.frame(fid)!;
      let d = this.byCatalogId[fid] - 1;
      if (d < 0 || this.distinct[d] !== f) {
        d = this.distinct.length;
        this.distinct.push(f);
        this.byCatalogId[fid] = d + 1;
        meetFrame(f, this.seenMappings, this.places);
      }
      this.seqFrames[at + n - 1 - i] = d;
    }
    this.at = at + n;
    const s = this.starts.length - 1;
    this.starts.push(this.at);
    this.stackIndex.set(stackId, s);
    return s;
  }

  /** Pass 2: every frame named (now that the mappings' places are known), the stacks' frames by name id. */
  named(): Uint32Array<ArrayBuffer> {
    const frameNameId = new Uint32Array(this.distinct.length);
    for (let d = 0; d < this.distinct.length; d++) frameNameId[d] = this.nameId(...nameOf(this.distinct[d], this.places));
    const frames = this.seqFrames.slice(0, this.at);
    for (let i = 0; i < frames.length; i++) frames[i] = frameNameId[frames[i]];
    return frames;
  }
}

/**
 * Folds a selection of stored windows into a StoredFold a slice at a time (TimeSlicer). The frames met are those
 * the selection's pprof profile would hold, in the encoder's order, so unsymbolized frames get its names.
 */
export function* foldStoredSteps(sel: FoldSelection): Generator<void, StoredFold> {
  const summed = yield* sumStoredSteps(sel);
  const shown = shownTypeIndex(sel.sampleTypes, sel.defaultSampleType);
  const folder = new Folder(sel.catalog, summed, shown);
  for (let e = 0; e < summed.count; e += ENTRIES_PER_STEP) {
    folder.entriesIn(e, Math.min(summed.count, e + ENTRIES_PER_STEP));
    yield;
  }
  const frames = folder.named();
  const n = folder.entries;
  return {
    sampleType: sel.sampleTypes[shown],
    names: folder.names,
    kinds: folder.kinds,
    stackStart: Uint32Array.from(folder.starts),
    frames,
    entryStack: folder.entryStack.slice(0, n),
    entryRoot: folder.entryRoot.slice(0, n),
    entryValue: folder.entryValue.slice(0, n),
    samplesGone: folder.gone,
  };
}

/** The encoder meets a frame for the first time: its mapping's place may move down (see MappingPlace). */
function meetFrame(f: ProfileFrame, seenMappings: Set<ProfileMapping>, places: Map<string, MappingPlace>): void {
  if (f.mapping) {
    const m = f.mapping;
    if (seenMappings.has(m)) return;
    seenMappings.add(m);
    const key = `${m.file}\0${m.buildId}`;
    const p = places.get(key);
    if (!p) places.set(key, { start: m.start, offset: m.offset });
    else if (m.start < p.start) {
      p.start = m.start;
      p.offset = m.offset;
    }
  } else if (f.kind === 'kernel') {
    const key = `${KERNEL_MAPPING_FILE}\0`;
    const p = places.get(key);
    if (!p) places.set(key, { start: f.address, offset: 0n });
    else if (f.address < p.start) p.start = f.address;
  }
}

function growU32(a: Uint32Array, size: number): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(size);
  out.set(a);
  return out;
}

function growI32(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(size);
  out.set(a);
  return out;
}

/** A frame's name and kind as collapsePprof gives them for the location the pprof encoder writes for it. */
function nameOf(f: ProfileFrame, places: ReadonlyMap<string, MappingPlace>): [string, FrameKind] {
  const mappingFile = f.mapping ? f.mapping.file : f.kind === 'kernel' ? KERNEL_MAPPING_FILE : '';
  if (f.functionName) return [f.functionName, classifyFrame(f.functionName, mappingFile, f.fileName ?? '')];
  const address = u64(f.address);
  if (mappingFile !== '') {
    const p = places.get(f.mapping ? `${f.mapping.file}\0${f.mapping.buildId}` : `${KERNEL_MAPPING_FILE}\0`)!;
    const off = address - u64(p.start) + u64(p.offset);
    if (off >= 0n) return [`${basename(mappingFile)}+0x${off.toString(16)}`, 'unknown'];
  }
  return [`0x${address.toString(16)}`, 'unknown'];
}

/** foldStoredSteps run to the end at once (tests, benchmarks). */
export function foldStored(sel: FoldSelection): StoredFold {
  const it = foldStoredSteps(sel);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * The folded stacks of a StoredFold: equal stacks merged, sorted as collapsePprofDetailed sorts them (by their
 * `name\x01kind` frames joined with \x00), values summed, non-positive ones left out; `processRoot` puts each
 * sample's `comm-pid` frame at the root. Frame objects are shared between stacks (read-only).
 */
export function foldedStacksOf(fold: StoredFold, opts: { processRoot?: boolean; maxDepth?: number } = {}): FoldedStack[] {
  const { names, kinds, stackStart, frames, entryStack, entryRoot, entryValue } = fold;
  const maxDepth = opts.maxDepth ?? FOLD_MAX_DEPTH;
  const nStacks = stackStart.length - 1;
  // Entries by (root, stack): usually many per pair (one per thread).
  const pairOf = new Map<number, number>();
  const pairRoot: number[] = [];
  const pairStack: number[] = [];
  const pairValue: number[] = [];
  for (let e = 0; e < entryStack.length; e++) {
    const v = entryValue[e];
    if (!(v > 0) || !Number.isFinite(v)) continue;
    const root = opts.processRoot ? entryRoot[e] : -1;
    const key = (root + 1) * nStacks + entryStack[e];
    const p = pairOf.get(key);
    if (p !== undefined) pairValue[p] += v;
    else {
      pairOf.set(key, pairRoot.length);
      pairRoot.push(root);
      pairStack.push(entryStack[e]);
      pairValue.push(v);
    }
  }

  // Pairs whose frames are the same (stacks differing only in addresses within functions, or cut at maxDepth)
  // are one folded stack.
  const seqs: Int32Array[] = [];
  const isRoot: boolean[] = [];
  const values: number[] = [];
  const byHash = new Map<number, number[]>();
  for (let p = 0; p < pairRoot.length; p++) {
    const root = pairRoot[p];
    const start = stackStart[pairStack[p]];
    const len = stackStart[pairStack[p] + 1] - start;
    const hasRoot = root >= 0 ? 1 : 0;
    const n = Math.min(len + hasRoot, maxDepth);
    const seq = new Int32Array(n);
    if (hasRoot && n > 0) seq[0] = root;
    for (let i = hasRoot; i < n; i++) seq[i] = frames[start + i - hasRoot];
    let h = 0x811c9dc5 ^ n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ seq[i], 0x01000193);
    let chain = byHash.get(h);
    if (chain === undefined) byHash.set(h, (chain = []));
    let same = -1;
    for (const c of chain) {
      const o = seqs[c];
      if (o.length !== n) continue;
      let eq = true;
      for (let i = 0; i < n && eq; i++) eq = o[i] === seq[i];
      if (eq) {
        same = c;
        break;
      }
    }
    if (same >= 0) values[same] += pairValue[p];
    else {
      chain.push(seqs.length);
      seqs.push(seq);
      isRoot.push(hasRoot === 1);
      values.push(pairValue[p]);
    }
  }

  // Order: by the joined `name\x01kind` keys. Without \x00 or \x01 in any name that is the order of the frames'
  // own keys compared one by one (a stack before its extensions), so each name is ranked once.
  const keys = names.map((n, i) => `${n}\u0001${KINDS[kinds[i]]}`);
  const order = seqs.map((_, i) => i);
  if (names.some((n) => n.includes('\u0000') || n.includes('\u0001'))) {
    const joined = seqs.map((seq) => Array.from(seq, (id) => keys[id]).join('\u0000'));
    order.sort((a, b) => (joined[a] < joined[b] ? -1 : joined[a] > joined[b] ? 1 : 0));
  } else {
    const byKey = keys.map((_, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    const rank = new Int32Array(keys.length);
    byKey.forEach((id, r) => (rank[id] = r));
    order.sort((a, b) => {
      const x = seqs[a];
      const y = seqs[b];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) if (x[i] !== y[i]) return rank[x[i]] - rank[y[i]];
      return x.length - y.length;
    });
  }

  const frameObjects: Frame[] = names.map((name, i) => ({ name, kind: KINDS[kinds[i]] }));
  const rootObjects = new Map<number, Frame>();
  const rootFrame = (id: number): Frame => {
    let f = rootObjects.get(id);
    if (!f) rootObjects.set(id, (f = { name: names[id], kind: KINDS[kinds[id]], processRoot: true }));
    return f;
  };
  return order.map((i) => {
    const seq = seqs[i];
    const out = new Array<Frame>(seq.length);
    for (let j = 0; j < seq.length; j++) out[j] = j === 0 && isRoot[i] ? rootFrame(seq[0]) : frameObjects[seq[j]];
    return { frames: out, value: values[i] };
  });
}
