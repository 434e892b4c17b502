// Merging retained windows by ids: samples with the same stack and label set are summed as numbers, without
// touching a frame, then only the distinct ones are turned back into samples. This is what keeps a from/to
// request over an hour cheap (issue 11): the per-frame work is done once per distinct sample, not once per
// sample per window. A generator, so requests run it a slice at a time (TimeSlicer).
import type { ProfileSample, ValueTypeSpec } from '../../exporters/pprof/types.js';
import { filtersActive, labelSetMatches, type LabelFilters } from './label-filter.js';
import type { StackCatalog } from './stack-catalog.js';
import type { StoredWindow } from './window-store.js';

/** Window samples summed between yields. */
const ENTRIES_PER_STEP = 8192;
/** Distinct samples made between yields. */
const SAMPLES_PER_STEP = 1024;

export interface StoredSelection {
  sampleTypes: readonly ValueTypeSpec[];
  period: number;
  windows: readonly StoredWindow[];
  catalog: StackCatalog;
  /** Keep only these processes (empty: all). */
  pids: readonly number[];
  /** Keep only samples whose labels pass these filters (absent: all). */
  filters?: LabelFilters;
}

export interface MergedStored {
  samples: ProfileSample[];
  /** Windows read, and those left out because their sample types differ (a changed --hz). */
  windows: number;
  windowsSkipped: number;
  /** Samples whose stack or labels left the catalog while this ran (their windows were dropped meanwhile). */
  samplesGone: number;
  /** Earliest start and latest end of the windows read. */
  startNs?: bigint;
  endNs?: bigint;
  comments: string[];
}

function sameTypes(a: readonly ValueTypeSpec[], b: readonly ValueTypeSpec[]): boolean {
  return a.length === b.length && a.every((t, i) => t.type === b[i].type && t.unit === b[i].unit);
}

export function* mergeStoredSteps(sel: StoredSelection): Generator<void, MergedStored> {
  const { catalog } = sel;
  const nTypes = sel.sampleTypes.length;
  const pidSet = sel.pids.length > 0 ? new Set(sel.pids) : undefined;
  const filters = sel.filters && filtersActive(sel.filters) ? sel.filters : undefined;
  const wanted = pidSet !== undefined || filters !== undefined;
  /** Label set id → kept by the pid and label filters (decided once per label set). */
  const labelKept = new Map<number, boolean>();
  /** Stack id → first entry; entries with the same stack chain through `next`. */
  const head = new Map<number, number>();
  let cap = 1024;
  let stacks = new Float64Array(cap);
  let labels = new Float64Array(cap);
  let next = new Int32Array(cap);
  let sums = new Float64Array(cap * nTypes);
  let count = 0;
  let skipped = 0;
  let gone = 0;
  let startNs: bigint | undefined;
  let endNs: bigint | undefined;
  const comments = new Set<string>();
  let sinceYield = 0;

  for (const w of sel.windows) {
    if (!sameTypes(w.sampleTypes, sel.sampleTypes) || w.period !== sel.period) {
      skipped++;
      continue;
    }
    if (startNs === undefined || w.startNs < startNs) startNs = w.startNs;
    if (endNs === undefined || w.endNs > endNs) endNs = w.endNs;
    for (const c of w.comments ?? []) comments.add(c);
    const n = w.stacks.length;
    for (let i = 0; i < n; i++) {
      const labelId = w.labels[i];
      if (wanted) {
        let keep = labelKept.get(labelId);
        if (keep === undefined) {
          const set = catalog.labelSet(labelId);
          keep = set !== undefined && (pidSet === undefined || pidSet.has(set.pid)) && (filters === undefined || labelSetMatches(set, filters));
          labelKept.set(labelId, keep);
        }
        if (!keep) continue;
      }
      const stackId = w.stacks[i];
      let e = head.get(stackId) ?? -1;
      while (e >= 0 && labels[e] !== labelId) e = next[e];
      if (e < 0) {
        if (count === cap) {
          cap *= 2;
          stacks = grow(stacks, cap);
          labels = grow(labels, cap);
          const n2 = new Int32Array(cap);
          n2.set(next);
          next = n2;
          sums = grow(sums, cap * nTypes);
        }
        e = count++;
        stacks[e] = stackId;
        labels[e] = labelId;
        next[e] = head.get(stackId) ?? -1;
        head.set(stackId, e);
      }
      const base = i * nTypes;
      for (let t = 0; t < nTypes; t++) sums[e * nTypes + t] += w.values[base + t];
      if (++sinceYield === ENTRIES_PER_STEP) {
        sinceYield = 0;
        yield;
      }
    }
  }

  const samples: ProfileSample[] = [];
  for (let e = 0; e < count; e++) {
    const values = new Array<number>(nTypes);
    for (let t = 0; t < nTypes; t++) values[t] = sums[e * nTypes + t];
    const s = catalog.sample(stacks[e], labels[e], values);
    if (!s) {
      gone++;
      continue;
    }
    samples.push(s);
    if ((e + 1) % SAMPLES_PER_STEP === 0) yield;
  }
  return {
    samples,
    windows: sel.windows.length,
    windowsSkipped: skipped,
    samplesGone: gone,
    startNs,
    endNs,
    comments: [...comments],
  };
}

function grow(a: Float64Array<ArrayBuffer>, size: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(size);
  out.set(a);
  return out;
}

/** mergeStoredSteps run to the end at once (tests, benchmarks). */
export function mergeStored(sel: StoredSelection): MergedStored {
  const it = mergeStoredSteps(sel);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}
