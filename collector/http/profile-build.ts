// A profile request's heavy part as generators for the TimeSlicer: the selected windows are summed by stack
// and label ids (windows/merge-stored.ts), filtered by pid on the way, the distinct samples go into one
// PprofBuilder, then the Profile is encoded in steps. Pure: no I/O.
import type { Profile } from 'pprof-format';
import { PprofBuilder, type PprofBuildStats } from '../../exporters/pprof/index.js';
import type { ProfileSelection } from '../agent/agent.js';
import { mergeStoredSteps } from '../windows/merge-stored.js';

/** Samples added between yields (a sample costs about 1 µs per frame). */
const SAMPLES_PER_STEP = 32;

export interface SelectionStats extends PprofBuildStats {
  /** Windows read. */
  windows: number;
  /** Windows left out because their sample types differ from the selection's (a changed --hz). */
  windowsSkipped: number;
  /** Samples left out because their windows left the store while the request was built. */
  samplesGone: number;
}

/**
 * Builds the pprof Profile of a selection, yielding every few samples. The profile spans its windows (earliest
 * start to latest end), or the span asked for when there is none; comments are kept once each.
 */
export function* buildSelectionSteps(sel: ProfileSelection): Generator<void, { profile: Profile; stats: SelectionStats }> {
  const merged = yield* mergeStoredSteps({
    sampleTypes: sel.header.sampleTypes,
    period: sel.header.period,
    windows: sel.windows,
    catalog: sel.catalog,
    pids: sel.pids,
    filters: sel.filters,
  });
  const builder = new PprofBuilder(sel.header);
  let n = 0;
  for (const s of merged.samples) {
    builder.add(s);
    if (++n % SAMPLES_PER_STEP === 0) yield;
  }
  const span =
    merged.startNs === undefined || merged.endNs === undefined
      ? { timeNanos: sel.fromNs, durationNanos: sel.toNs - sel.fromNs }
      : { timeNanos: merged.startNs, durationNanos: merged.endNs - merged.startNs };
  const { profile, stats } = builder.finish({ ...span, comments: merged.comments });
  return { profile, stats: { ...stats, windows: merged.windows, windowsSkipped: merged.windowsSkipped, samplesGone: merged.samplesGone } };
}
