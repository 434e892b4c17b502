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
import type { ProfileData, ProfileFrame, ProfileMapping } from './types.js';

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

/**
 * buildPprofWithStats converts ProfileData into a pprof Profile and says what it dropped.
 * Never throws on odd data: samples whose value count differs from sampleTypes are counted and left out.
 */
export function buildPprofWithStats(data: ProfileData): { profile: Profile; stats: PprofBuildStats } {
  const strings = new StringTable(); // index 0 is "" already
  const mappings = new MappingTable(strings);
  const functions: PprofFunction[] = [];
  const functionIds = new Map<string, number>();
  const locations: Location[] = [];
  const locationIds = new Map<string, number>();
  // Collectors reuse frame objects across samples: resolve each object once.
  const frameIds = new Map<ProfileFrame, number>();

  const functionId = (f: ProfileFrame): number => {
    const name = f.functionName as string;
    const systemName = f.systemName ?? name;
    const file = f.fileName ?? '';
    const key = `${name}\0${systemName}\0${file}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      functions.push(
        new PprofFunction({
          id,
          name: strings.dedup(name),
          systemName: strings.dedup(systemName),
          filename: strings.dedup(file),
        }),
      );
      functionIds.set(key, id);
    }
    return id;
  };

  const locationId = (f: ProfileFrame): number => {
    let id = frameIds.get(f);
    if (id !== undefined) return id;
    let mappingId = 0;
    if (f.mapping) mappingId = mappings.idFor(f.mapping);
    else if (f.kind === 'kernel') mappingId = mappings.kernelIdFor(f);
    const fnId = f.functionName ? functionId(f) : 0; // "" counts as unsymbolized, as in toFolded
    const line = f.line && f.line > 0 ? toInteger(f.line) : 0;
    // The function is part of the key: JIT code reuses addresses, and frames without a mapping share id 0.
    const key = `${mappingId}:${f.address.toString(16)}:${fnId}:${line}`;
    id = locationIds.get(key);
    if (id === undefined) {
      id = locations.length + 1;
      locations.push(
        new Location({
          id,
          mappingId,
          address: f.address,
          line: fnId !== 0 ? [new Line({ functionId: fnId, line })] : [],
        }),
      );
      locationIds.set(key, id);
    }
    frameIds.set(f, id);
    return id;
  };

  const nTypes = data.sampleTypes.length;
  const merged = new Map<string, Sample>();
  let dropped = 0;
  for (const s of data.samples) {
    if (s.values.length !== nTypes || !s.values.every(Number.isFinite)) {
      dropped++;
      continue;
    }
    const locs = s.frames.map(locationId);
    const labels: Label[] = [];
    let labelKey = '';
    if (s.numLabels) {
      for (const k of Object.keys(s.numLabels).sort()) {
        const v = s.numLabels[k];
        if (!Number.isFinite(v)) continue;
        labels.push(new Label({ key: strings.dedup(k), num: toInteger(v) }));
        labelKey += `\0n${k}=${v}`;
      }
    }
    if (s.strLabels) {
      for (const k of Object.keys(s.strLabels).sort()) {
        const v = s.strLabels[k];
        labels.push(new Label({ key: strings.dedup(k), str: strings.dedup(v) }));
        labelKey += `\0s${k}=${v}`;
      }
    }
    const key = `${locs.join(',')}${labelKey}`;
    const prev = merged.get(key);
    if (prev) {
      for (let i = 0; i < nTypes; i++) prev.value[i] = Number(prev.value[i]) + toInteger(s.values[i]);
    } else {
      merged.set(key, new Sample({ locationId: locs, value: s.values.map(toInteger), label: labels }));
    }
  }

  const mappingList = mainBinaryFirst(mappings.list, strings, locations);

  const profile = new Profile({
    sampleType: data.sampleTypes.map(
      (t) => new ValueType({ type: strings.dedup(t.type), unit: strings.dedup(t.unit) }),
    ),
    periodType: new ValueType({ type: strings.dedup(data.periodType.type), unit: strings.dedup(data.periodType.unit) }),
    period: toInteger(data.period),
    timeNanos: data.timeNanos,
    durationNanos: data.durationNanos,
    sample: [...merged.values()],
    mapping: mappingList,
    location: locations,
    function: functions,
    comment: (data.comments ?? []).map((c) => strings.dedup(c)),
    stringTable: strings,
  });
  return {
    profile,
    stats: {
      samplesIn: data.samples.length,
      samplesOut: merged.size,
      samplesDropped: dropped,
      locations: locations.length,
      functions: functions.length,
      mappings: mappingList.length,
    },
  };
}

/** buildPprof converts ProfileData into a pprof Profile (see buildPprofWithStats). */
export function buildPprof(data: ProfileData): Profile {
  return buildPprofWithStats(data).profile;
}

/** encodePprofGzip encodes ProfileData as a gzipped pprof protobuf, the body Go's /debug/pprof/profile serves. */
export async function encodePprofGzip(data: ProfileData): Promise<Buffer> {
  const raw = await buildPprof(data).encodeAsync();
  return gzip(raw);
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
