// The retained history's shared tables (issue 11): every distinct frame, stack and label set seen in the
// windows a store holds, once each, so that a retained window is three typed arrays (stack ids, label ids,
// values) instead of an object graph per sample. An hour of windows then costs a few MiB and is merged by
// numbers, not by walking frames.
//
// Entries are counted by the windows that use them and freed when the last such window goes. Stack and label
// ids are never reused: a request still building from windows dropped meanwhile finds their entries gone and
// leaves those samples out, rather than finding someone else's. Frame ids are reused (they are reached only
// through a live stack).
import type { ProfileFrame, ProfileMapping, ProfileSample } from '../../exporters/pprof/types.js';

/** Bytes a stack entry holds besides its frame ids: the entry, its typed array and two maps' slots. */
const STACK_ENTRY_BYTES = 200;
/** A frame entry and its slots in two maps; frames made per window (JIT, unknown) add their object. */
const FRAME_ENTRY_BYTES = 96;
const OWN_FRAME_BYTES = 160;
/** A label set: two label objects, their strings, the key and the map slot. */
const LABEL_ENTRY_BYTES = 360;

interface FrameEntry {
  frame: ProfileFrame;
  /**
   * The latest other object found equal to `frame` (a symbolizer cache made the frame anew): known by object
   * too, so the windows after it find it without comparing values.
   */
  alias?: ProfileFrame;
  /** Stacks using this frame (one per occurrence). */
  refs: number;
  /** The next entry with the same mapping and address (other names, kinds or lines). */
  nextSameAddress?: number;
  bytes: number;
}

interface StackEntry {
  frames: Uint32Array;
  /** Hash of the frame ids; entries with the same hash chain through `nextSameHash`. */
  hash: number;
  nextSameHash?: StackEntry;
  id: number;
  /** Window samples using this stack. */
  refs: number;
  bytes: number;
}

export interface LabelSet {
  numLabels?: Record<string, number>;
  strLabels?: Record<string, string>;
  /** numLabels.pid, or -1: the pid filter reads it without a lookup. */
  pid: number;
}

interface LabelEntry {
  labels: LabelSet;
  key: string;
  refs: number;
}

export interface CatalogStats {
  frames: number;
  stacks: number;
  labelSets: number;
  bytes: number;
}

export class StackCatalog {
  private readonly frames: Array<FrameEntry | undefined> = [];
  private readonly freeFrameIds: number[] = [];
  private readonly frameIdByObject = new Map<ProfileFrame, number>();
  /**
   * Frames by value, for objects not known by identity: by mapping (its value key, see mappingKeys), then
   * address, then a chain compared field by field. No key string per frame: building one was most of the agent's
   * garbage when a file's frame cache started over every window (590 MB in 30 s at --hz 990).
   */
  private readonly frameIdsByValue = new Map<string, Map<bigint, number>>();
  /**
   * A mapping's value key (what the pprof encoder keys mappings by), made once per mapping object: the
   * symbolizer keeps one object per file, while windows decoded from pprof bring new equal ones.
   */
  private readonly mappingKeys = new WeakMap<ProfileMapping, string>();
  private readonly stacks = new Map<number, StackEntry>();
  /** Stacks by the hash of their frame ids (no key strings: interning a window allocated 60 MB with them). */
  private readonly stacksByHash = new Map<number, StackEntry>();
  private scratch = new Uint32Array(256);
  private readonly labels = new Map<number, LabelEntry>();
  private readonly labelIdByKey = new Map<string, number>();
  private nextStackId = 1;
  private nextLabelId = 1;
  private totalBytes = 0;
  private stackCount = 0;

  /** Estimated bytes the tables hold (frames shared with the symbolizer's caches are not counted twice). */
  get bytes(): number {
    return this.totalBytes;
  }

  get stats(): CatalogStats {
    return { frames: this.frames.length - this.freeFrameIds.length, stacks: this.stackCount, labelSets: this.labels.size, bytes: this.totalBytes };
  }

  /** The id of this sample's stack, with one more reference (the caller's window holds it). */
  internStack(frames: readonly ProfileFrame[]): number {
    const n = frames.length;
    if (this.scratch.length < n) this.scratch = new Uint32Array(n * 2);
    const ids = this.scratch;
    // FNV-1a over the ids, folded to 31 bits (a small integer key in V8's maps).
    let h = 0x811c9dc5 ^ n;
    for (let i = 0; i < n; i++) {
      const id = this.frameId(frames[i]);
      ids[i] = id;
      h = Math.imul(h ^ id, 0x01000193);
    }
    h &= 0x7fffffff;
    for (let e = this.stacksByHash.get(h); e !== undefined; e = e.nextSameHash) {
      if (e.frames.length !== n) continue;
      let same = true;
      for (let i = 0; i < n && same; i++) same = e.frames[i] === ids[i];
      if (!same) continue;
      e.refs++;
      this.releaseUnusedFrames(ids, n);
      return e.id;
    }
    const own = ids.slice(0, n);
    const id = this.nextStackId++;
    const bytes = STACK_ENTRY_BYTES + n * 4;
    const entry: StackEntry = { frames: own, hash: h, nextSameHash: this.stacksByHash.get(h), id, refs: 1, bytes };
    this.stacks.set(id, entry);
    this.stacksByHash.set(h, entry);
    this.stackCount++;
    this.totalBytes += bytes;
    for (let i = 0; i < n; i++) this.frames[own[i]]!.refs++;
    return id;
  }

  /** The id of this sample's label set, with one more reference. */
  internLabels(sample: Pick<ProfileSample, 'numLabels' | 'strLabels'>): number {
    let key = '';
    const num = sample.numLabels;
    const str = sample.strLabels;
    // In the order the keys were set (the same for every sample of a source): a different order only makes a
    // second entry for the same set.
    if (num) for (const k in num) key += `\0n${k}=${num[k]}`;
    if (str) for (const k in str) key += `\0s${k}=${str[k]}`;
    let id = this.labelIdByKey.get(key);
    if (id !== undefined) {
      this.labels.get(id)!.refs++;
      return id;
    }
    id = this.nextLabelId++;
    // Copies: the sample's objects (and the comm string decoded from a kernel buffer) are the window's.
    const labels: LabelSet = {
      numLabels: num ? { ...num } : undefined,
      strLabels: str ? { ...str } : undefined,
      pid: num?.pid ?? -1,
    };
    this.labels.set(id, { labels, key, refs: 1 });
    this.labelIdByKey.set(key, id);
    this.totalBytes += LABEL_ENTRY_BYTES + key.length;
    return id;
  }

  /** One more reference to a label set a window of this call already interned (so it is live). */
  retainLabels(labelId: number): void {
    this.labels.get(labelId)!.refs++;
  }

  /** The frames of a live stack (leaf first), or undefined once it was freed. */
  stackFrames(stackId: number): ProfileFrame[] | undefined {
    const e = this.stacks.get(stackId);
    if (!e) return undefined;
    const out = new Array<ProfileFrame>(e.frames.length);
    for (let i = 0; i < e.frames.length; i++) out[i] = this.frames[e.frames[i]]!.frame;
    return out;
  }

  /**
   * The frame ids of a live stack (leaf first), the catalog's own array: read it, do not keep it past a turn of
   * the event loop (ids of freed frames are reused). Undefined once the stack was freed.
   */
  stackFrameIds(stackId: number): Uint32Array | undefined {
    return this.stacks.get(stackId)?.frames;
  }

  /** The frame of a frame id, or undefined when the id is free. */
  frame(frameId: number): ProfileFrame | undefined {
    return this.frames[frameId]?.frame;
  }

  /** A sample again from its ids and values; undefined once its stack or label set was freed. */
  sample(stackId: number, labelId: number, values: number[]): ProfileSample | undefined {
    const frames = this.stackFrames(stackId);
    const set = this.labelSet(labelId);
    if (!frames || !set) return undefined;
    const s: ProfileSample = { frames, values };
    if (set.numLabels) s.numLabels = set.numLabels;
    if (set.strLabels) s.strLabels = set.strLabels;
    return s;
  }

  /** The label set, or undefined once it was freed. */
  labelSet(labelId: number): LabelSet | undefined {
    return this.labels.get(labelId)?.labels;
  }

  /** Drops one reference to each stack and label set of a window leaving the store. */
  release(stackIds: ArrayLike<number>, labelIds: ArrayLike<number>): void {
    for (let i = 0; i < stackIds.length; i++) this.releaseStack(stackIds[i]);
    for (let i = 0; i < labelIds.length; i++) this.releaseLabels(labelIds[i]);
  }

  private releaseStack(id: number): void {
    const e = this.stacks.get(id);
    if (!e || --e.refs > 0) return;
    this.stacks.delete(id);
    // Unlink from its hash chain.
    const first = this.stacksByHash.get(e.hash);
    if (first === e) {
      if (e.nextSameHash) this.stacksByHash.set(e.hash, e.nextSameHash);
      else this.stacksByHash.delete(e.hash);
    } else {
      let p = first;
      while (p !== undefined && p.nextSameHash !== e) p = p.nextSameHash;
      if (p) p.nextSameHash = e.nextSameHash;
    }
    this.stackCount--;
    this.totalBytes -= e.bytes;
    for (const f of e.frames) {
      const fe = this.frames[f]!;
      fe.refs--;
    }
    this.releaseUnusedFrames(e.frames, e.frames.length);
  }

  private releaseLabels(id: number): void {
    const e = this.labels.get(id);
    if (!e || --e.refs > 0) return;
    this.labels.delete(id);
    this.labelIdByKey.delete(e.key);
    this.totalBytes -= LABEL_ENTRY_BYTES + e.key.length;
  }

  private frameId(frame: ProfileFrame): number {
    const known = this.frameIdByObject.get(frame);
    if (known !== undefined) return known;
    // A frame object made anew (JIT and unknown frames, or a symbolizer cache that started over): found by value.
    const mk = this.mappingKey(frame.mapping);
    let byAddress = this.frameIdsByValue.get(mk);
    if (byAddress === undefined) this.frameIdsByValue.set(mk, (byAddress = new Map()));
    const first = byAddress.get(frame.address);
    for (let id = first; id !== undefined; id = this.frames[id]!.nextSameAddress) {
      const e = this.frames[id]!;
      if (!sameFrame(e.frame, frame)) continue;
      if (e.alias !== undefined) this.frameIdByObject.delete(e.alias);
      e.alias = frame;
      this.frameIdByObject.set(frame, id);
      return id;
    }
    const own = frame.kind === 'jit' || frame.kind === 'unknown';
    const bytes = FRAME_ENTRY_BYTES + (frame.functionName?.length ?? 0) + (own ? OWN_FRAME_BYTES : 0);
    const id = this.freeFrameIds.pop() ?? this.frames.length;
    this.frames[id] = { frame, refs: 0, nextSameAddress: first, bytes };
    this.frameIdByObject.set(frame, id);
    byAddress.set(frame.address, id);
    this.totalBytes += bytes;
    return id;
  }

  private mappingKey(m: ProfileMapping | undefined): string {
    if (m === undefined) return '';
    let k = this.mappingKeys.get(m);
    if (k === undefined) {
      k = `${m.file}\0${m.buildId}\0${m.start}`;
      this.mappingKeys.set(m, k);
    }
    return k;
  }

  /** Unlinks a freed frame from its value chain. */
  private forgetValue(id: number, e: FrameEntry): void {
    const mk = this.mappingKey(e.frame.mapping);
    const byAddress = this.frameIdsByValue.get(mk);
    if (byAddress === undefined) return;
    const first = byAddress.get(e.frame.address);
    if (first === id) {
      if (e.nextSameAddress !== undefined) byAddress.set(e.frame.address, e.nextSameAddress);
      else {
        byAddress.delete(e.frame.address);
        if (byAddress.size === 0) this.frameIdsByValue.delete(mk);
      }
      return;
    }
    for (let p = first; p !== undefined; p = this.frames[p]!.nextSameAddress) {
      const pe = this.frames[p]!;
      if (pe.nextSameAddress === id) {
        pe.nextSameAddress = e.nextSameAddress;
        return;
      }
    }
  }

  /** Frees frames no stack uses (ones just made for a stack that already existed, or of a freed stack). */
  private releaseUnusedFrames(ids: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const e = this.frames[id];
      if (e === undefined || e.refs > 0) continue;
      this.forgetValue(id, e);
      this.frames[id] = undefined;
      this.frameIdByObject.delete(e.frame);
      if (e.alias !== undefined) this.frameIdByObject.delete(e.alias);
      this.freeFrameIds.push(id);
      this.totalBytes -= e.bytes;
    }
  }
}

/**
 * What makes two frame objects the same frame in a profile (what the pprof encoder keys locations by), for two
 * frames of the same mapping object and address.
 */
function sameFrame(a: ProfileFrame, b: ProfileFrame): boolean {
  return a.kind === b.kind && a.functionName === b.functionName && a.systemName === b.systemName && a.fileName === b.fileName && (a.line ?? 0) === (b.line ?? 0);
}
