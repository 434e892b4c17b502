// The off-CPU program as a ProfileSource (see profile-source.ts).
import { OffcpuCollector } from './latency-index.js';
import type { ProfileSource, ProfileSourceOptions } from './index.js';

export async function startOffcpuSource(opts: ProfileSourceOptions): Promise<ProfileSource> {
  const c = OffcpuCollector.start({ pids: opts.pids, minBlockNs: opts.minBlockNs });
  return {
    kind: 'offcpu',
    drain: () => c.drain(),
    // A drain ends the window at its flip; blocks still in progress then are counted when they end, in the
    // next window, so there is nothing to stop first.
    detach: () => {},
    close: () => c.close(),
    programStats: () => Object.entries(c.programStats()).map(([program, s]) => ({ program, ...s })),
  };
}
