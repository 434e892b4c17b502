// Merging aggregation windows into one ProfileData, and filtering by process. Pure functions: inputs are
// never mutated; merged samples share frame, mapping and label objects with the inputs.

import type { ProfileData, ProfileFrame, ProfileMapping, ProfileSample, ValueTypeSpec } from './types.js';

export interface MergeStats {
  /** Parts left out because their sample types differ from the first part's. */
  partsSkipped: number;
  /** Samples left out because their value count differs from sampleTypes. */
  samplesDropped: number;
}

function sameTypes(a: ValueTypeSpec[], b: ValueTypeSpec[]): boolean {
  return a.length === b.length && a.every((t, i) => t.type === b[i].type && t.unit === b[i].unit);
}

/**
 * Gives equal frames one small integer, so a sample's key is short. Frames are compared by content
 * (mapping file + build-id, address, names, line), because each window may build its own frame objects.
 */
class FrameInterner {
  private readonly byObject = new Map<ProfileFrame, number>();
  private readonly byKey = new Map<string, number>();
  private readonly mappingKeys = new Map<ProfileMapping, string>();

  id(f: ProfileFrame): number {
    let id = this.byObject.get(f);
    if (id !== undefined) return id;
    let mk = '';
    if (f.mapping) {
      mk = this.mappingKeys.get(f.mapping) ?? '';
      if (mk === '') {
        mk = `${f.mapping.file}\0${f.mapping.buildId}`;
        this.mappingKeys.set(f.mapping, mk);
      }
    }
    const key = `${f.kind}\0${mk}\0${f.address}\0${f.functionName ?? '\u0001'}\0${f.systemName ?? ''}\0${f.fileName ?? ''}\0${f.line ?? 0}`;
    id = this.byKey.get(key);
    if (id === undefined) {
      id = this.byKey.size;
      this.byKey.set(key, id);
    }
    this.byObject.set(f, id);
    return id;
  }
}

interface MergedEntry {
  ids: Int32Array;
  labelId: number;
  sample: ProfileSample;
}

function sameIds(a: Int32Array, b: Int32Array, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Keys in sorted order; collectors build labels in one order, so the sort is usually skipped. */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1] > keys[i]) return keys.sort();
  }
  return keys;
}

function labelKey(s: ProfileSample): string {
  let key = '';
  const num = s.numLabels;
  const str = s.strLabels;
  if (num) for (const k of sortedKeys(num)) key += '\0n' + k + '=' + num[k];
  if (str) for (const k of sortedKeys(str)) key += '\0s' + k + '=' + str[k];
  return key;
}

/**
 * mergeProfileDataWithStats merges windows of one profile type: samples with equal frames and labels are
 * summed, time is the earliest start and duration spans to the latest end. Parts whose sample types
 * differ from the first part's are skipped and counted. With no parts, the result has no sample types.
 */
export function mergeProfileDataWithStats(parts: ProfileData[]): { data: ProfileData; stats: MergeStats } {
  const stats: MergeStats = { partsSkipped: 0, samplesDropped: 0 };
  if (parts.length === 0) {
    return {
      data: { sampleTypes: [], periodType: { type: '', unit: '' }, period: 0, timeNanos: 0n, durationNanos: 0n, samples: [] },
      stats,
    };
  }
  const first = parts[0];
  const nTypes = first.sampleTypes.length;
  const frames = new FrameInterner();
  const labelIds = new Map<string, number>();
  // Keyed by a hash of (frame ids, label id); entries compare the ids exactly, so collisions are harmless.
  const buckets = new Map<number, MergedEntry[]>();
  const merged: ProfileSample[] = [];
  let ids = new Int32Array(256);
  const comments: string[] = [];
  const seenComments = new Set<string>();
  let start: bigint | undefined;
  let end: bigint | undefined;

  for (const part of parts) {
    if (part !== first && !sameTypes(part.sampleTypes, first.sampleTypes)) {
      stats.partsSkipped++;
      continue;
    }
    const partEnd = part.timeNanos + part.durationNanos;
    if (start === undefined || part.timeNanos < start) start = part.timeNanos;
    if (end === undefined || partEnd > end) end = partEnd;
    for (const c of part.comments ?? []) {
      if (!seenComments.has(c)) {
        seenComments.add(c);
        comments.push(c);
      }
    }
    for (const s of part.samples) {
      if (s.values.length !== nTypes) {
        stats.samplesDropped++;
        continue;
      }
      const n = s.frames.length;
      if (n > ids.length) ids = new Int32Array(n * 2);
      const lk = labelKey(s);
      let labelId = labelIds.get(lk);
      if (labelId === undefined) {
        labelId = labelIds.size;
        labelIds.set(lk, labelId);
      }
      let h = Math.imul(labelId ^ 0x9e3779b9, 0x85ebca6b) ^ n;
      for (let i = 0; i < n; i++) {
        const id = frames.id(s.frames[i]);
        ids[i] = id;
        h = Math.imul(h ^ id, 0x01000193);
      }
      let bucket = buckets.get(h);
      let entry: MergedEntry | undefined;
      if (bucket) {
        for (const e of bucket) {
          if (e.labelId === labelId && sameIds(e.ids, ids, n)) {
            entry = e;
            break;
          }
        }
      } else {
        bucket = [];
        buckets.set(h, bucket);
      }
      if (entry) {
        for (let i = 0; i < nTypes; i++) entry.sample.values[i] += s.values[i];
      } else {
        const sample = { ...s, values: s.values.slice() };
        bucket.push({ ids: ids.slice(0, n), labelId, sample });
        merged.push(sample);
      }
    }
  }

  const data: ProfileData = {
    sampleTypes: first.sampleTypes,
    periodType: first.periodType,
    period: first.period,
    timeNanos: start ?? 0n,
    durationNanos: (end ?? 0n) - (start ?? 0n),
    samples: merged,
  };
  if (comments.length > 0) data.comments = comments;
  if (first.defaultSampleType) data.defaultSampleType = first.defaultSampleType;
  return { data, stats };
}

/** mergeProfileData merges windows of one profile type (see mergeProfileDataWithStats). */
export function mergeProfileData(parts: ProfileData[]): ProfileData {
  return mergeProfileDataWithStats(parts).data;
}

/**
 * filterByPid keeps the samples whose `pid` label is one of pids. An empty list means no filter (the whole
 * system), as when `--pid` is not given.
 */
export function filterByPid(data: ProfileData, pids: readonly number[]): ProfileData {
  if (pids.length === 0) return data;
  const wanted = new Set(pids);
  return { ...data, samples: data.samples.filter((s) => s.numLabels !== undefined && wanted.has(s.numLabels.pid)) };
}
