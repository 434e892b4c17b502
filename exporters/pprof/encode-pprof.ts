// ProfileData → pprof `Profile` (as Go's runtime/pprof writes CPU profiles) and back from bytes.
// Encoding is pure; gzip is the only wrapper, because `go tool pprof` detects gzip from its magic bytes.

import { gunzipSync, gzip as gzipCallback } from 'node:zlib';
import { promisify } from 'node:util';
import {
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Mapping,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { ExporterError, ExporterErrorCodes } from '../errors.js';
import type { ProfileData, ProfileFrame, ProfileMapping, ProfileSample } from './types.js';

const gzip = promisify(gzipCallback);

/** The pseudo-file kernel frames live under, as perf names it. */
export const KERNEL_MAPPING_FILE = '[kernel.kallsyms]';

/** Largest decompressed profile decodePprof accepts; a bigger one is refused, not buffered. */
export const DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024;

/** What buildPprof kept and dropped. */
export interface PprofBuildStats {
  samplesIn: number;
  /** Samples written after merging those with identical frames and labels. */
  samplesOut: number;
  /** Samples dropped because their values did not match sampleTypes or were not finite. */
  samplesDropped: number;
  locations: number;
  functions: number;
  mappings: number;
}

/** One mapping id per distinct file + build-id; kernel frames without a mapping share a synthesized one. */
class MappingTable {
  readonly list: Mapping[] = [];
  private readonly byKey = new Map<string, Mapping>();
  private readonly byObject = new Map<ProfileMapping, Mapping>();

  constructor(private readonly strings: StringTable) {}

  idFor(m: ProfileMapping): number {
    let out = this.byObject.get(m);
    if (out === undefined) {
      const key = `${m.file}\0${m.buildId}`;
      out = this.byKey.get(key);
      if (out === undefined) {
        out = new Mapping({
          id: this.list.length + 1,
          memoryStart: m.start,
          memoryLimit: m.limit,
          fileOffset: m.offset,
          filename: this.strings.dedup(m.file),
          buildId: this.strings.dedup(m.buildId),
          hasFunctions: m.hasFunctions,
        });
        this.list.push(out);
        this.byKey.set(key, out);
      } else {
        // Several objects for one file (e.g. per-process copies): widen the range so it covers them all.
        if (m.start < BigInt(out.memoryStart)) {
          out.memoryStart = m.start;
          out.fileOffset = m.offset;
        }
        if (m.limit > BigInt(out.memoryLimit)) out.memoryLimit = m.limit;
        out.hasFunctions = out.hasFunctions || m.hasFunctions;
      }
      this.byObject.set(m, out);
    }
    return Number(out.id);
  }

  /** Kernel frames the collector handed over without a mapping still belong under [kernel.kallsyms]. */
  kernelIdFor(frame: ProfileFrame): number {
    const key = `${KERNEL_MAPPING_FILE}\0`;
    let out = this.byKey.get(key);
    if (out === undefined) {
      const id = this.idFor({
        file: KERNEL_MAPPING_FILE,
        buildId: '',
        start: frame.address,
        limit: frame.address + 1n,
        offset: 0n,
        hasFunctions: !!frame.functionName,
      });
      return id;
    }
    if (frame.address < BigInt(out.memoryStart)) out.memoryStart = frame.address;
    if (frame.address >= BigInt(out.memoryLimit)) out.memoryLimit = frame.address + 1n;
    if (frame.functionName) out.hasFunctions = true;
    return Number(out.id);
  }
}

/**
 * pprof treats the first mapping as the main binary (`File:` in its reports), and Go writes its executable
 * first: order executables, then shared libraries, then pseudo-files, keeping first-seen order within each.
 */
function mainBinaryFirst(list: Mapping[], strings: StringTable, locations: Location[]): Mapping[] {
  const rank = (m: Mapping): number => {
    const file = strings.strings[Number(m.filename)];
    if (file === '' || file.startsWith('[')) return 2;
    return /\.so(\.[0-9.]+)?$/.test(file) || /\.so\b/.test(file.slice(file.lastIndexOf('/'))) ? 1 : 0;
  };
  const sorted = list.map((m, i) => ({ m, i, r: rank(m) })).sort((a, b) => a.r - b.r || a.i - b.i);
  const newId = new Map<number, number>();
  sorted.forEach((e, i) => newId.set(Number(e.m.id), i + 1));
  for (const l of locations) {
    if (l.mappingId !== 0) l.mappingId = newId.get(Number(l.mappingId)) as number;
  }
  return sorted.map((e, i) => {
    e.m.id = i + 1;
    return e.m;
  });
}

function toInteger(v: number): number {
  return Number.isInteger(v) ? v : Math.round(v);
}

interface LabelSetEntry {
  id: number;
  labels: Label[];
}

interface MergedSample {
  sample: Sample;
  labelSet: number;
}

/** Stands for a sample without numeric or string labels in the by-object lookup. */
const NO_LABELS = {};

/** The profile-wide part of a ProfileData: what PprofBuilder needs besides the samples. */
export type PprofHeader = Pick<ProfileData, 'sampleTypes' | 'periodType' | 'period' | 'defaultSampleType'>;

/**
 * PprofBuilder turns samples into a pprof Profile one at a time, so a caller can build from many windows
 * without merging them first (samples with identical locations and labels are summed here) and can stop
 * between samples to let other work run. buildPprofWithStats is the one-call form.
 */
export class PprofBuilder {
  private readonly strings = new StringTable(); // index 0 is "" already
  private readonly mappings = new MappingTable(this.strings);
  private readonly functions: PprofFunction[] = [];
  // Keyed by nested maps rather than joined strings: windows bring fresh frame objects, so these lookups run
  // once per frame object, and a joined key (a BigInt in hex, long JIT names) costs 3-6 times more to build
  // and hash than lookups on the parts (V8 keeps a string's hash in the string).
  /** name → system name → file name → function id. */
  private readonly functionIds = new Map<string, Map<string, Map<string, number>>>();
  private readonly locations: Location[] = [];
  /** mapping id → address → the locations there (one per function and line; usually one). */
  private readonly locationIds = new Map<number, Map<bigint, { fnId: number; line: number; id: number }[]>>();
  // Collectors reuse frame objects across samples: resolve each object once.
  private readonly frameIds = new Map<ProfileFrame, number>();
  /** Label sets by their key, built once each, with a number for the merge below. */
  private readonly labelSets = new Map<string, LabelSetEntry>();
  /**
   * The same, by the sample's label objects themselves: collectors share one numLabels and strLabels object
   * between the samples of a thread, so building and sorting the key runs once per object pair.
   */
  private readonly labelSetsByObject = new Map<object, Map<object, LabelSetEntry>>();
  /** Merged samples by a hash of their location ids and label set number; a chain per hash. */
  private readonly merged = new Map<number, MergedSample[]>();
  private readonly samples: Sample[] = [];
  private readonly nTypes: number;
  private samplesIn = 0;
  private dropped = 0;

  constructor(private readonly header: PprofHeader) {
    this.nTypes = header.sampleTypes.length;
  }

  private functionId(f: ProfileFrame): number {
    const name = f.functionName as string;
    const systemName = f.systemName ?? name;
    const file = f.fileName ?? '';
    let bySystemName = this.functionIds.get(name);
    if (bySystemName === undefined) this.functionIds.set(name, (bySystemName = new Map()));
    let byFile = bySystemName.get(systemName);
    if (byFile === undefined) bySystemName.set(systemName, (byFile = new Map()));
    let id = byFile.get(file);
    if (id === undefined) {
      id = this.functions.length + 1;
      this.functions.push(
        new PprofFunction({
          id,
          name: this.strings.dedup(name),
          systemName: this.strings.dedup(systemName),
          filename: this.strings.dedup(file),
        }),
      );
      byFile.set(file, id);
    }
    return id;
  }

  private locationId(f: ProfileFrame): number {
    let id = this.frameIds.get(f);
    if (id !== undefined) return id;
    let mappingId = 0;
    if (f.mapping) mappingId = this.mappings.idFor(f.mapping);
    else if (f.kind === 'kernel') mappingId = this.mappings.kernelIdFor(f);
    const fnId = f.functionName ? this.functionId(f) : 0; // "" counts as unsymbolized, as in toFolded
    const line = f.line && f.line > 0 ? toInteger(f.line) : 0;
    // The function is part of the key: JIT code reuses addresses, and frames without a mapping share id 0.
    let byAddress = this.locationIds.get(mappingId);
    if (byAddress === undefined) this.locationIds.set(mappingId, (byAddress = new Map()));
    let here = byAddress.get(f.address);
    if (here === undefined) byAddress.set(f.address, (here = []));
    for (const e of here) {
      if (e.fnId === fnId && e.line === line) {
        id = e.id;
        break;
      }
    }
    if (id === undefined) {
      id = this.locations.length + 1;
      this.locations.push(
        new Location({
          id,
          mappingId,
          address: f.address,
          line: fnId !== 0 ? [new Line({ functionId: fnId, line })] : [],
        }),
      );
      here.push({ fnId, line, id });
    }
    this.frameIds.set(f, id);
    return id;
  }

  /** Adds one sample; one whose values do not match the sample types (or are not finite) is counted and left out. */
  add(s: ProfileSample): void {
    const { nTypes } = this;
    this.samplesIn++;
    if (s.values.length !== nTypes || !s.values.every(Number.isFinite)) {
      this.dropped++;
      return;
    }
    const frames = s.frames;
    const locs = new Array<number>(frames.length);
    let h = 0x811c9dc5;
    for (let i = 0; i < frames.length; i++) {
      const id = this.locationId(frames[i]);
      locs[i] = id;
      h = Math.imul(h ^ id, 0x01000193);
    }
    const set = this.labelSetOf(s);
    h = Math.imul(h ^ set.id, 0x01000193);
    let chain = this.merged.get(h);
    if (chain === undefined) this.merged.set(h, (chain = []));
    for (const m of chain) {
      if (m.labelSet !== set.id || m.sample.locationId.length !== locs.length) continue;
      const prevLocs = m.sample.locationId;
      let same = true;
      for (let i = 0; i < locs.length && same; i++) same = prevLocs[i] === locs[i];
      if (!same) continue;
      const value = m.sample.value;
      for (let i = 0; i < nTypes; i++) value[i] = Number(value[i]) + toInteger(s.values[i]);
      return;
    }
    const sample = new Sample({ locationId: locs, value: s.values.map(toInteger), label: set.labels });
    chain.push({ sample, labelSet: set.id });
    this.samples.push(sample);
  }

  private labelSetOf(s: ProfileSample): LabelSetEntry {
    const numObj: object = s.numLabels ?? NO_LABELS;
    const strObj: object = s.strLabels ?? NO_LABELS;
    let byStr = this.labelSetsByObject.get(numObj);
    if (byStr === undefined) this.labelSetsByObject.set(numObj, (byStr = new Map()));
    let set = byStr.get(strObj);
    if (set !== undefined) return set;
    const { strings } = this;
    const numKeys = s.numLabels ? Object.keys(s.numLabels).sort() : [];
    const strKeys = s.strLabels ? Object.keys(s.strLabels).sort() : [];
    let labelKey = '';
    for (const k of numKeys) {
      const v = s.numLabels![k];
      if (Number.isFinite(v)) labelKey += `\0n${k}=${v}`;
    }
    for (const k of strKeys) labelKey += `\0s${k}=${s.strLabels![k]}`;
    set = this.labelSets.get(labelKey);
    if (set === undefined) {
      const labels: Label[] = [];
      for (const k of numKeys) {
        const v = s.numLabels![k];
        if (Number.isFinite(v)) labels.push(new Label({ key: strings.dedup(k), num: toInteger(v) }));
      }
      for (const k of strKeys) labels.push(new Label({ key: strings.dedup(k), str: strings.dedup(s.strLabels![k]) }));
      set = { id: this.labelSets.size + 1, labels };
      this.labelSets.set(labelKey, set);
    }
    byStr.set(strObj, set);
    return set;
  }

  /** The Profile of the samples added; call once. */
  finish(span: Pick<ProfileData, 'timeNanos' | 'durationNanos' | 'comments'>): { profile: Profile; stats: PprofBuildStats } {
    const { strings, header } = this;
    const mappingList = mainBinaryFirst(this.mappings.list, strings, this.locations);
    const profile = new Profile({
      sampleType: header.sampleTypes.map(
        (t) => new ValueType({ type: strings.dedup(t.type), unit: strings.dedup(t.unit) }),
      ),
      periodType: new ValueType({ type: strings.dedup(header.periodType.type), unit: strings.dedup(header.periodType.unit) }),
      period: toInteger(header.period),
      timeNanos: span.timeNanos,
      durationNanos: span.durationNanos,
      sample: this.samples,
      mapping: mappingList,
      location: this.locations,
      function: this.functions,
      comment: (span.comments ?? []).map((c) => strings.dedup(c)),
      ...(header.defaultSampleType ? { defaultSampleType: strings.dedup(header.defaultSampleType) } : {}),
      stringTable: strings,
    });
    return {
      profile,
      stats: {
        samplesIn: this.samplesIn,
        samplesOut: this.samples.length,
        samplesDropped: this.dropped,
        locations: this.locations.length,
        functions: this.functions.length,
        mappings: mappingList.length,
      },
    };
  }
}

/**
 * buildPprofWithStats converts ProfileData into a pprof Profile and says what it dropped.
 * Never throws on odd data: samples whose value count differs from sampleTypes are counted and left out.
 */
export function buildPprofWithStats(data: ProfileData): { profile: Profile; stats: PprofBuildStats } {
  const builder = new PprofBuilder(data);
  for (const s of data.samples) builder.add(s);
  return builder.finish(data);
}

/** buildPprof converts ProfileData into a pprof Profile (see buildPprofWithStats). */
export function buildPprof(data: ProfileData): Profile {
  return buildPprofWithStats(data).profile;
}

/**
 * Gzip as Go's runtime/pprof writes profiles (gzip.BestSpeed): a pprof profile is mostly varints and a string
 * table, and level 1 makes it about a fifth larger in a third of the time of the default level.
 */
export const PPROF_GZIP_OPTIONS = Object.freeze({ level: 1 });

/** gzipPprof compresses encoded pprof bytes as a `/debug/pprof/profile` body (see PPROF_GZIP_OPTIONS). */
export function gzipPprof(raw: Uint8Array): Promise<Buffer> {
  return gzip(raw, PPROF_GZIP_OPTIONS);
}

/** encodePprofGzip encodes ProfileData as a gzipped pprof protobuf, the body Go's /debug/pprof/profile serves. */
export async function encodePprofGzip(data: ProfileData): Promise<Buffer> {
  const raw = await buildPprof(data).encodeAsync();
  return gzipPprof(raw);
}

/** A repeated message field of Profile as pprof-format encodes it: its message length and its bytes. */
interface EncodableMessage {
  readonly length: number;
  encode(buffer?: Uint8Array): Uint8Array;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[offset++] = n;
  return offset;
}

/** A varint's size for a non-negative safe integer. */
function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return varintSize(n);
}

/** Numbers the fast path writes as they are: non-negative safe integers (pprof-format writes others). */
function plainNumbers(xs: readonly (number | bigint)[]): boolean {
  for (const x of xs) if (typeof x !== 'number' || !(x >= 0) || !Number.isSafeInteger(x)) return false;
  return true;
}

/**
 * Writes Sample messages byte for byte as pprof-format does (packed location ids and values, zeros kept, then
 * the labels), faster: a label's bytes are encoded once per Label object, which the builder shares between the
 * samples of a label set, rather than measured and encoded again in every sample. Samples with negative,
 * fractional or BigInt numbers go through pprof-format itself.
 */
class SampleWriter {
  private readonly labelBytes = new Map<Label, Uint8Array>();
  /** Per sample index between measure and write: bytes of the packed ids and values; -1 = pprof-format's. */
  private readonly locBytes: number[] = [];
  private readonly valueBytes: number[] = [];

  measure(sample: Sample, index: number): number {
    const locs = sample.locationId as number[];
    const values = sample.value as number[];
    if (!plainNumbers(locs) || !plainNumbers(values)) {
      this.locBytes[index] = -1;
      return sample.length;
    }
    let locBytes = 0;
    for (const x of locs) locBytes += uvarintSize(x);
    let valueBytes = 0;
    for (const x of values) valueBytes += uvarintSize(x);
    let total = 0;
    if (locs.length > 0) total += 1 + uvarintSize(locBytes) + locBytes;
    if (values.length > 0) total += 1 + uvarintSize(valueBytes) + valueBytes;
    for (const label of sample.label) total += this.labelOf(label).length;
    this.locBytes[index] = locBytes;
    this.valueBytes[index] = valueBytes;
    return total;
  }

  write(sample: Sample, index: number, out: Uint8Array, offset: number): void {
    const locBytes = this.locBytes[index];
    if (locBytes < 0) {
      sample._encodeToBuffer(out, offset);
      return;
    }
    const locs = sample.locationId as number[];
    if (locs.length > 0) {
      out[offset++] = 10; // field 1, length-delimited (packed)
      offset = writeVarint(out, offset, locBytes);
      for (const x of locs) offset = writeVarint(out, offset, x);
    }
    const values = sample.value as number[];
    if (values.length > 0) {
      out[offset++] = 18; // field 2, packed
      offset = writeVarint(out, offset, this.valueBytes[index]);
      for (const x of values) offset = writeVarint(out, offset, x);
    }
    for (const label of sample.label) {
      const bytes = this.labelOf(label);
      out.set(bytes, offset);
      offset += bytes.length;
    }
  }

  /** A label as field 3 of its sample: tag, length and the message. */
  private labelOf(label: Label): Uint8Array {
    let bytes = this.labelBytes.get(label);
    if (bytes === undefined) {
      const len = label.length;
      bytes = new Uint8Array(1 + varintSize(len) + len);
      bytes[0] = 26; // field 3, length-delimited
      const at = writeVarint(bytes, 1, len);
      label._encodeToBuffer(bytes, at);
      this.labelBytes.set(label, bytes);
    }
    return bytes;
  }
}

/**
 * encodePprofSteps encodes a Profile a chunk of messages at a time: a generator that yields between chunks and
 * returns the bytes `profile.encode()` gives (the same fields in the same order), so a large profile's encoding
 * can be spread over turns of the event loop. The string table is already encoded (StringTable encodes each
 * string as it is added) and is copied at the end in one go.
 */
export function* encodePprofSteps(profile: Profile, chunk = 512): Generator<void, Uint8Array> {
  // Profile's repeated message fields 1..5, in the order pprof-format writes them (tags fit one byte).
  const fields: [number, readonly EncodableMessage[]][] = [
    [1, profile.sampleType],
    [2, profile.sample],
    [3, profile.mapping],
    [4, profile.location],
    [5, profile.function],
  ];
  // Everything else (string table, scalars, comments) is small or pre-encoded: one Profile without the lists.
  const tail = new Profile({
    stringTable: profile.stringTable,
    dropFrames: profile.dropFrames,
    keepFrames: profile.keepFrames,
    timeNanos: profile.timeNanos,
    durationNanos: profile.durationNanos,
    periodType: profile.periodType,
    period: profile.period,
    comment: profile.comment,
    defaultSampleType: profile.defaultSampleType,
    docUrl: profile.docUrl,
  }).encode();
  const lengths: number[][] = [];
  let total = tail.length;
  let n = 0;
  const samples = new SampleWriter();
  for (const [field, list] of fields) {
    const ls: number[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const len = field === 2 ? samples.measure(list[i] as Sample, i) : list[i].length;
      ls[i] = len;
      total += 1 + varintSize(len) + len;
      if (++n % chunk === 0) yield;
    }
    lengths.push(ls);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (let f = 0; f < fields.length; f++) {
    const [field, list] = fields[f];
    const ls = lengths[f];
    for (let i = 0; i < list.length; i++) {
      out[offset++] = (field << 3) | 2; // length-delimited
      offset = writeVarint(out, offset, ls[i]);
      if (field === 2) samples.write(list[i] as Sample, i, out, offset);
      else list[i].encode(out.subarray(offset, offset + ls[i]));
      offset += ls[i];
      if (++n % chunk === 0) yield;
    }
  }
  out.set(tail, offset);
  return out;
}

/** A profile that could not be read: HP_ERR_INPUT, the message naming the step that failed. */
function decodeError(step: string): ExporterError {
  return new ExporterError(ExporterErrorCodes.INPUT, `decode pprof: ${step}`);
}

export interface DecodePprofOptions {
  /** Refuse profiles that decompress to more than this many bytes (default 256 MiB). */
  maxDecodedBytes?: number;
}

/**
 * decodePprof reads a pprof profile from gzipped (detected by the 1f 8b magic) or raw protobuf bytes.
 * Throws an ExporterError (HP_ERR_INPUT), naming the step that failed, for bad gzip, oversize or
 * malformed protobuf.
 */
export function decodePprof(buf: Buffer | Uint8Array, opts: DecodePprofOptions = {}): Profile {
  const max = opts.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  let raw: Uint8Array = buf;
  if (buf.length === 0) throw decodeError('empty input');
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      raw = gunzipSync(buf, { maxOutputLength: max });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw decodeError(`gunzip: profile is larger than ${max} bytes decompressed`);
      }
      throw decodeError(`gunzip: ${e.message}`);
    }
  } else if (buf.length > max) {
    throw decodeError(`profile is larger than ${max} bytes`);
  }
  let profile: Profile;
  try {
    profile = Profile.decode(raw);
  } catch (err) {
    throw decodeError(`protobuf: ${(err as Error).message}`);
  }
  const problem = checkReferences(profile);
  if (problem) throw decodeError(`${problem} (not a pprof profile?)`);
  return profile;
}

/** Readers index tables by these ids; a dangling one would surface later as undefined, so refuse it here. */
function checkReferences(p: Profile): string | undefined {
  const strings = p.stringTable.strings;
  if (strings[0] !== '') return 'string_table[0] is not the empty string';
  const nStrings = strings.length;
  const str = (v: number | bigint): boolean => typeof v === 'number' && v >= 0 && v < nStrings;
  const mappingIds = new Set<number | bigint>(p.mapping.map((m) => m.id));
  const functionIds = new Set<number | bigint>(p.function.map((f) => f.id));
  const locationIds = new Set<number | bigint>(p.location.map((l) => l.id));
  for (const t of p.sampleType) if (!str(t.type) || !str(t.unit)) return 'sample_type names a missing string';
  for (const m of p.mapping) if (!str(m.filename) || !str(m.buildId)) return `mapping ${m.id} names a missing string`;
  for (const f of p.function) {
    if (!str(f.name) || !str(f.systemName) || !str(f.filename)) return `function ${f.id} names a missing string`;
  }
  for (const l of p.location) {
    if (l.mappingId !== 0 && !mappingIds.has(l.mappingId)) return `location ${l.id} names missing mapping ${l.mappingId}`;
    for (const line of l.line) {
      if (!functionIds.has(line.functionId)) return `location ${l.id} names missing function ${line.functionId}`;
    }
  }
  for (const s of p.sample) {
    for (const id of s.locationId) if (!locationIds.has(id)) return `sample names missing location ${id}`;
    if (s.value.length !== p.sampleType.length) return 'sample value count differs from sample_type';
    for (const l of s.label) if (!str(l.key) || !str(l.str)) return 'sample label names a missing string';
  }
  for (const c of p.comment) if (!str(c)) return 'comment names a missing string';
  return undefined;
}
