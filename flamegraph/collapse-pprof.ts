import type { Function as PprofFunction, Location, Mapping, Profile } from 'pprof-format';
import { classifyFrame } from './frame-kind.js';
import { FlamegraphError, FlamegraphErrorCodes } from './errors.js';
import type { FoldedStack, Frame } from './types.js';

export interface CollapseOptions {
  /** Index into `profile.sampleType`; wins over `sampleType`. */
  valueIndex?: number;
  /** Sample type name (`cpu`, `samples`, `offcpu`...); default: the profile's default, else the last one. */
  sampleType?: string;
  /** Put a `comm-pid` frame (from the sample's `comm`/`pid` labels) at the root of every stack. */
  processRoot?: boolean;
  /** Frames kept per stack (inlining can multiply frames); the rest nearest the leaf is dropped. */
  maxDepth?: number;
}

export interface SampleTypeInfo {
  index: number;
  type: string;
  unit: string;
}

export interface CollapseResult {
  stacks: FoldedStack[];
  sampleType: SampleTypeInfo;
  /** Sum of all stack values. */
  total: number;
  /** What was left out, and why; bad input is counted, never thrown. */
  dropped: { negativeValues: number; missingLocations: number; truncatedStacks: number };
}

const DEFAULT_MAX_DEPTH = 1024;

/**
 * selectSampleType picks which value of each sample to use. Go's tools default to the profile's
 * `default_sample_type`, else the last type (for a Go CPU profile: cpu/nanoseconds).
 * Throws FlamegraphError (a caller's option error, not bad data) for an unknown name or index.
 */
export function selectSampleType(profile: Profile, opts: CollapseOptions = {}): SampleTypeInfo {
  const strings = profile.stringTable?.strings ?? [''];
  const str = (i: unknown) => strings[Number(i)] ?? '';
  const types = (profile.sampleType ?? []).map((t, index) => ({ index, type: str(t.type), unit: str(t.unit) }));
  if (types.length === 0) throw new FlamegraphError(FlamegraphErrorCodes.NO_SAMPLE_TYPES, 'profile has no sample types');
  if (opts.valueIndex !== undefined) {
    const t = types[opts.valueIndex];
    if (!Number.isInteger(opts.valueIndex) || !t) {
      throw new FlamegraphError(FlamegraphErrorCodes.BAD_VALUE_INDEX,
        `value index ${opts.valueIndex} out of range 0..${types.length - 1}`);
    }
    return t;
  }
  if (opts.sampleType !== undefined) {
    const t = types.find((x) => x.type === opts.sampleType);
    if (!t) {
      throw new FlamegraphError(FlamegraphErrorCodes.UNKNOWN_SAMPLE_TYPE,
        `sample type ${JSON.stringify(opts.sampleType)} not in profile (has: ${types.map((x) => x.type).join(', ')})`);
    }
    return t;
  }
  const def = str(profile.defaultSampleType);
  return (def !== '' && types.find((x) => x.type === def)) || types[types.length - 1];
}

function toNumber(v: unknown): number {
  // Negative int64 values arrive from the decoder as huge unsigned BigInts.
  if (typeof v === 'bigint') return Number(BigInt.asIntN(64, v));
  return typeof v === 'number' ? v : 0;
}

function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? BigInt(Math.trunc(v)) : 0n;
}

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Collapses a decoded pprof profile (ours or Go's) into folded stacks; see collapsePprofDetailed. */
export function collapsePprof(profile: Profile, opts: CollapseOptions = {}): FoldedStack[] {
  return collapsePprofDetailed(profile, opts).stacks;
}

/**
 * collapsePprofDetailed turns samples (leaf first in pprof) into root-first stacks, merging equal stacks.
 * Inlined functions (several `line` entries, the last being the caller) expand into several frames;
 * a location without lines is named `<mapping basename>+0x<file offset>` or `0x<address>`.
 * Output is sorted by stack so equal profiles give equal output.
 */
export function collapsePprofDetailed(profile: Profile, opts: CollapseOptions = {}): CollapseResult {
  const sampleType = selectSampleType(profile, opts);
  const strings = profile.stringTable?.strings ?? [''];
  const str = (i: unknown) => strings[Number(i)] ?? '';
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;

  const mappings = new Map<number, Mapping>();
  for (const m of profile.mapping ?? []) mappings.set(Number(m.id), m);
  const functions = new Map<number, PprofFunction>();
  for (const f of profile.function ?? []) functions.set(Number(f.id), f);
  const locations = new Map<number, Location>();
  for (const l of profile.location ?? []) locations.set(Number(l.id), l);

  // Frames per location are computed once: profiles reuse locations across thousands of samples.
  const locationFrames = new Map<number, Frame[]>();
  const framesOf = (loc: Location): Frame[] => {
    const id = Number(loc.id);
    let frames = locationFrames.get(id);
    if (frames) return frames;
    const mappingId = Number(loc.mappingId);
    const mapping = mappingId ? mappings.get(mappingId) : undefined;
    const mappingFile = mapping ? str(mapping.filename) : mappingId ? '[unknown]' : '';
    frames = [];
    const lines = loc.line ?? [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const fn = functions.get(Number(lines[i].functionId));
      const name = fn ? str(fn.name) || str(fn.systemName) : '';
      if (name === '') continue;
      frames.push({ name, kind: classifyFrame(name, mappingFile, fn ? str(fn.filename) : '') });
    }
    if (frames.length === 0) frames.push({ name: addressName(loc, mapping, mappingFile), kind: 'unknown' });
    locationFrames.set(id, frames);
    return frames;
  };

  const merged = new Map<string, FoldedStack>();
  const dropped = { negativeValues: 0, missingLocations: 0, truncatedStacks: 0 };
  let total = 0;
  for (const sample of profile.sample ?? []) {
    const value = toNumber(sample.value?.[sampleType.index]);
    if (value < 0 || !Number.isFinite(value)) {
      dropped.negativeValues++;
      continue;
    }
    if (value === 0) continue;
    const frames: Frame[] = [];
    if (opts.processRoot) {
      const root = processFrame(sample.label ?? [], str);
      if (root) frames.push(root);
    }
    const ids = sample.locationId ?? [];
    for (let i = ids.length - 1; i >= 0; i--) {
      const loc = locations.get(Number(ids[i]));
      if (!loc) {
        dropped.missingLocations++;
        frames.push({ name: `[missing location ${toBig(ids[i])}]`, kind: 'unknown' });
        continue;
      }
      for (const f of framesOf(loc)) frames.push(f);
    }
    if (frames.length > maxDepth) {
      frames.length = maxDepth;
      dropped.truncatedStacks++;
    }
    const key = frames.map((f) => `${f.name}\u0001${f.kind}`).join('\u0000');
    const prev = merged.get(key);
    if (prev) prev.value += value;
    else merged.set(key, { frames, value });
    total += value;
  }
  const keys = [...merged.keys()].sort();
  return { stacks: keys.map((k) => merged.get(k)!), sampleType, total, dropped };
}

function addressName(loc: Location, mapping: Mapping | undefined, mappingFile: string): string {
  const address = toBig(loc.address);
  if (mapping && mappingFile !== '') {
    const off = address - toBig(mapping.memoryStart) + toBig(mapping.fileOffset);
    if (off >= 0n) return `${basename(mappingFile)}+0x${off.toString(16)}`;
  }
  return `0x${address.toString(16)}`;
}

function processFrame(labels: { key: unknown; str: unknown; num: unknown }[], str: (i: unknown) => string): Frame | undefined {
  let comm = '';
  let pid = '';
  for (const l of labels) {
    const key = str(l.key);
    if (key === 'comm') comm = str(l.str) || comm;
    else if (key === 'pid') pid = str(l.str) || (toNumber(l.num) ? String(toNumber(l.num)) : pid);
  }
  if (comm === '' && pid === '') return undefined;
  return { name: comm && pid ? `${comm}-${pid}` : comm || `pid-${pid}`, kind: 'native', processRoot: true };
}
