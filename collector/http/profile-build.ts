// A profile request's heavy part as generators for the TimeSlicer: the selected windows go straight into one
// PprofBuilder (which sums identical samples: no separate merge pass), filtered by pid on the way, then the
// Profile is encoded in steps. Pure: no I/O.
import type { Profile } from 'pprof-format';
import { PprofBuilder, type PprofBuildStats, type ValueTypeSpec } from '../../exporters/pprof/index.js';
import type { ProfileSelection } from '../agent/agent.js';

/** Samples added between yields (a sample costs about 1 µs per frame). */
const SAMPLES_PER_STEP = 32;

function sameTypes(a: readonly ValueTypeSpec[], b: readonly ValueTypeSpec[]): boolean {
  return a.length === b.length && a.every((t, i) => t.type === b[i].type && t.unit === b[i].unit);
}

export interface SelectionStats extends PprofBuildStats {
  /** Windows read. */
  windows: number;
  /** Windows left out because their sample types differ from the selection's (a changed --hz). */
  windowsSkipped: number;
}

/**
 * Builds the pprof Profile of a selection, yielding every few samples. The profile spans its windows (earliest
 * start to latest end), or the span asked for when there is none; comments are kept once each.
 */
export function* buildSelectionSteps(sel: ProfileSelection): Generator<void, { profile: Profile; stats: SelectionStats }> {
  const wanted = sel.pids.length > 0 ? new Set(sel.pids) : undefined;
  const builder = new PprofBuilder(sel.header);
  const comments = new Set<string>();
  let start: bigint | undefined;
  let end: bigint | undefined;
  let skipped = 0;
  let n = 0;
  for (const w of sel.windows) {
    if (!sameTypes(w.sampleTypes, sel.header.sampleTypes) || w.period !== sel.header.period) {
      skipped++;
      continue;
    }
    const wEnd = w.timeNanos + w.durationNanos;
    if (start === undefined || w.timeNanos < start) start = w.timeNanos;
    if (end === undefined || wEnd > end) end = wEnd;
    for (const c of w.comments ?? []) comments.add(c);
    for (const s of w.samples) {
      if (wanted && (s.numLabels === undefined || !wanted.has(s.numLabels.pid))) continue;
      builder.add(s);
      if (++n % SAMPLES_PER_STEP === 0) yield;
    }
    yield;
  }
  const span =
    start === undefined || end === undefined
      ? { timeNanos: sel.fromNs, durationNanos: sel.toNs - sel.fromNs }
      : { timeNanos: start, durationNanos: end - start };
  const { profile, stats } = builder.finish({ ...span, comments: [...comments] });
  return { profile, stats: { ...stats, windows: sel.windows.length, windowsSkipped: skipped } };
}
