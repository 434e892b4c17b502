// Label filters of the UI and the profile routes (issue 13): which samples a selection keeps, decided once per
// label set (a window's samples point at a few hundred label sets, not at labels of their own). Values within
// one label are alternatives (OR); labels combine (AND). Pure.
import type { LabelSet } from './stack-catalog.js';

/** The labels a filter may name, as the query parameters spell them. */
export const FILTER_LABELS = ['pid', 'tid', 'comm', 'process', 'container', 'pod'] as const;
export type FilterLabel = (typeof FILTER_LABELS)[number];

/** Wanted values per label; an absent or empty list keeps every value. */
export type LabelFilters = Partial<Record<FilterLabel, readonly (string | number)[]>>;

/** The value of `label` in a label set, as text ('' when the set does not have it: a process outside pods). */
export function labelValue(set: LabelSet, label: FilterLabel): string {
  switch (label) {
    case 'pid':
      return set.pid >= 0 ? String(set.pid) : '';
    case 'tid':
      return set.numLabels?.tid !== undefined ? String(set.numLabels.tid) : '';
    case 'comm':
      return set.strLabels?.comm ?? '';
    case 'process':
      return set.strLabels?.process ?? '';
    case 'container':
      return set.strLabels?.container_id ?? '';
    case 'pod':
      return set.strLabels?.pod_uid ?? '';
  }
}

/** Whether a filter keeps anything out (false: every sample is kept). */
export function filtersActive(f: LabelFilters): boolean {
  return FILTER_LABELS.some((l) => (f[l]?.length ?? 0) > 0);
}

/** Whether a label set passes the filters. */
export function labelSetMatches(set: LabelSet, f: LabelFilters): boolean {
  for (const l of FILTER_LABELS) {
    const wanted = f[l];
    if (!wanted || wanted.length === 0) continue;
    const v = labelValue(set, l);
    if (!wanted.some((w) => String(w) === v)) return false;
  }
  return true;
}

/** A stable text naming the filters (shared-build keys): equal filters give equal keys. */
export function filtersKey(f: LabelFilters): string {
  return FILTER_LABELS.filter((l) => (f[l]?.length ?? 0) > 0)
    .map((l) => `${l}=${[...f[l]!].map(String).sort().join('\u0001')}`)
    .join('\u0000');
}
