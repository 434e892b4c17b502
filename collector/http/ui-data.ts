// The UI's data (issue 13), as pure functions over what the agent holds: the timeline of retained windows
// (values per window, stacked by the top values of one label), the top functions of folded stacks (self and
// cumulative, and what grew or shrank against a base), and the two halves of a sandwich view (callers and
// callees of one function). Bounded: top N series, top N functions.
import type { FoldedStack } from '../../flamegraph/index.js';
import type { StackCatalog } from '../windows/stack-catalog.js';
import { labelSetMatches, labelValue, type FilterLabel, type LabelFilters } from '../windows/label-filter.js';
import type { StoredWindow } from '../windows/window-store.js';

export interface Timeline {
  /** Per window: [start, end] in Unix seconds. */
  windows: [number, number][];
  /** The top values of the label, largest total first, then "other" when anything else was seen. */
  series: { key: string; total: number; values: number[] }[];
  /** The value shown: samples (CPU) or seconds off-CPU. */
  unit: string;
}

export interface TimelineOptions {
  by: FilterLabel;
  filters: LabelFilters;
  /** Index of the sample value summed (0 samples, 1 nanoseconds). */
  valueIndex: number;
  /** Values are multiplied by this (1e-9: nanoseconds shown as seconds). */
  scale: number;
  unit: string;
  top: number;
}

export const OTHER_SERIES = '(other)';

/** The timeline of `windows`: per window, the sum of the chosen value by label value, top `top` kept apart. */
export function timelineOf(windows: readonly StoredWindow[], catalog: StackCatalog, opts: TimelineOptions): Timeline {
  /** Label set id → series index, or -1 when the filters leave it out. */
  const seriesOfLabel = new Map<number, number>();
  const keys: string[] = [];
  const indexOfKey = new Map<string, number>();
  const perWindow: Float64Array[] = [];
  let perWindowSize = 16;
  for (const w of windows) {
    const nTypes = w.sampleTypes.length;
    let sums = new Float64Array(perWindowSize);
    for (let i = 0; i < w.stacks.length; i++) {
      const labelId = w.labels[i];
      let s = seriesOfLabel.get(labelId);
      if (s === undefined) {
        const set = catalog.labelSet(labelId);
        if (!set || !labelSetMatches(set, opts.filters)) s = -1;
        else {
          const key = labelValue(set, opts.by) || '(none)';
          s = indexOfKey.get(key);
          if (s === undefined) {
            s = keys.length;
            keys.push(key);
            indexOfKey.set(key, s);
          }
        }
        seriesOfLabel.set(labelId, s);
      }
      if (s < 0) continue;
      if (s >= sums.length) {
        perWindowSize = Math.max(perWindowSize * 2, s + 1);
        const g = new Float64Array(perWindowSize);
        g.set(sums);
        sums = g;
      }
      sums[s] += (w.values[i * nTypes + opts.valueIndex] ?? 0) * opts.scale;
    }
    perWindow.push(sums);
  }
  const totals = keys.map((key, k) => ({ key, k, total: perWindow.reduce((a, s) => a + (s[k] ?? 0), 0) }));
  totals.sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
  const kept = totals.slice(0, opts.top);
  const rest = totals.slice(opts.top);
  const series = kept.map(({ key, k, total }) => ({ key, total, values: perWindow.map((s) => s[k] ?? 0) }));
  if (rest.length > 0) {
    series.push({
      key: OTHER_SERIES,
      total: rest.reduce((a, r) => a + r.total, 0),
      values: perWindow.map((s) => rest.reduce((a, r) => a + (s[r.k] ?? 0), 0)),
    });
  }
  const sec = (ns: bigint) => Number(ns) / 1e9;
  return { windows: windows.map((w) => [sec(w.startNs), sec(w.endNs)]), series, unit: opts.unit };
}

export interface TopRow {
  name: string;
  kind: string;
  self: number;
  total: number;
}

/** Self and cumulative value of every function (a function on a stack twice counts once in its total). */
export function functionTotals(stacks: readonly FoldedStack[]): Map<string, TopRow> {
  const rows = new Map<string, TopRow>();
  const seen = new Set<string>();
  for (const s of stacks) {
    seen.clear();
    const n = s.frames.length;
    for (let i = 0; i < n; i++) {
      const f = s.frames[i];
      let r = rows.get(f.name);
      if (!r) rows.set(f.name, (r = { name: f.name, kind: f.kind, self: 0, total: 0 }));
      if (i === n - 1) r.self += s.value;
      if (!seen.has(f.name)) {
        seen.add(f.name);
        r.total += s.value;
      }
    }
  }
  return rows;
}

export interface TopTable {
  total: number;
  /** The top `limit` by cumulative value and the top `limit` by self value (a union: the table sorts both ways). */
  rows: TopRow[];
}

export function topFunctions(stacks: readonly FoldedStack[], limit: number): TopTable {
  const all = [...functionTotals(stacks).values()];
  const total = stacks.reduce((a, s) => a + s.value, 0);
  const byTotal = [...all].sort((a, b) => b.total - a.total).slice(0, limit);
  const bySelf = [...all].sort((a, b) => b.self - a.self).slice(0, limit);
  const rows = [...new Set([...byTotal, ...bySelf])].sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1));
  return { total, rows };
}

export interface DiffRow {
  name: string;
  /** Shares of the whole, 0..1, in the base and the current selection. */
  baseSelf: number;
  self: number;
  baseTotal: number;
  total: number;
}

/** What grew and shrank: functions by the change of their cumulative share, largest change first. */
export function diffFunctions(base: readonly FoldedStack[], current: readonly FoldedStack[], limit: number): { baseTotal: number; total: number; rows: DiffRow[] } {
  const b = functionTotals(base);
  const c = functionTotals(current);
  const bt = base.reduce((a, s) => a + s.value, 0);
  const ct = current.reduce((a, s) => a + s.value, 0);
  const share = (v: number, t: number) => (t > 0 ? v / t : 0);
  const rows: DiffRow[] = [];
  for (const name of new Set([...b.keys(), ...c.keys()])) {
    const br = b.get(name);
    const cr = c.get(name);
    rows.push({
      name,
      baseSelf: share(br?.self ?? 0, bt),
      self: share(cr?.self ?? 0, ct),
      baseTotal: share(br?.total ?? 0, bt),
      total: share(cr?.total ?? 0, ct),
    });
  }
  rows.sort((x, y) => Math.abs(y.total - y.baseTotal) - Math.abs(x.total - x.baseTotal) || (x.name < y.name ? -1 : 1));
  return { baseTotal: bt, total: ct, rows: rows.slice(0, limit) };
}

/**
 * One half of a sandwich around `focus`: its callees (the frames after its first occurrence, root first) or its
 * callers (the frames before it, nearest first). Stacks without it are left out; the focus itself becomes
 * the root (render with rootName = focus).
 */
export function sandwichStacks(stacks: readonly FoldedStack[], focus: string, view: 'callers' | 'callees'): FoldedStack[] {
  const out: FoldedStack[] = [];
  for (const s of stacks) {
    const at = s.frames.findIndex((f) => f.name === focus);
    if (at < 0) continue;
    const frames = view === 'callees' ? s.frames.slice(at + 1) : s.frames.slice(0, at).reverse();
    out.push({ frames, value: s.value });
  }
  return out;
}
