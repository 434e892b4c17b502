// The two ways a selection of stored windows becomes folded stacks, for tests that hold them equal: the pprof
// path ("download pprof": build, encode, decode, collapse) and the direct fold the UI's graph and table use.
import { decodePprof, encodePprofSteps } from '../../exporters/pprof/index.js';
import type { FoldedStack } from '../../flamegraph/index.js';
import type { ProfileSelection } from '../agent/agent.js';
import { buildSelectionSteps } from '../http/profile-build.js';
import { foldedStacksOf, foldStored } from '../windows/fold-stored.js';
import { foldForFlamegraph } from '../windows/output-formats.js';

function run<T>(it: Generator<void, T>): T {
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** The pprof path: build, encode, decode, collapse (as the render worker did before the direct fold). */
export function foldViaPprof(sel: ProfileSelection, processRoot: boolean): ReturnType<typeof foldForFlamegraph> {
  const { profile } = run(buildSelectionSteps(sel));
  return foldForFlamegraph(decodePprof(run(encodePprofSteps(profile))), { processRoot });
}

/** The direct path, as the server and its worker run it. */
export function foldDirect(sel: ProfileSelection, processRoot: boolean): { stacks: FoldedStack[]; sampleType: { type: string; unit: string } } {
  const fold = foldStored({ ...sel, sampleTypes: sel.header.sampleTypes, period: sel.header.period, defaultSampleType: sel.header.defaultSampleType });
  return { stacks: foldedStacksOf(fold, { processRoot }), sampleType: fold.sampleType };
}
