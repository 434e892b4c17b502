// Latency programs (run-queue and block-I/O histograms) as the agent and the metrics exporter see them.
import type { HistogramSeries, ProgramStats } from '../../exporters/metrics/index.js';
import { BiolatencyCollector, RunqlatCollector, blockDeviceName } from './latency-index.js';

export interface LatencySource {
  series(): HistogramSeries[];
  programStats(): ProgramStats[];
  close(): void;
}

export interface LatencySources {
  runqlat?: LatencySource;
  biolatency?: LatencySource;
}

const statsList = (stats: Record<string, { runTimeNs: bigint; runCount: bigint }>): ProgramStats[] =>
  Object.entries(stats).map(([program, s]) => ({ program, ...s }));

/** Starts the named latency programs; throws (naming the step) if one fails, after closing what it opened. */
export async function startLatencySources(names: ('runqlat' | 'biolatency')[]): Promise<LatencySources> {
  const out: LatencySources = {};
  try {
    for (const name of names) {
      if (name === 'runqlat') {
        const c = RunqlatCollector.start();
        out.runqlat = {
          series: () => [{ attributes: {}, histogram: c.read() }],
          programStats: () => statsList(c.programStats()),
          close: () => c.close(),
        };
      } else {
        const c = BiolatencyCollector.start();
        // Device names are looked up once per device: they do not change while the device exists.
        const names = new Map<string, string>();
        const deviceName = (major: number, minor: number) => {
          const key = `${major}:${minor}`;
          let n = names.get(key);
          if (n === undefined) {
            n = blockDeviceName(major, minor);
            names.set(key, n);
          }
          return n;
        };
        out.biolatency = {
          series: () =>
            c.read().map((h) => ({
              attributes: { device: deviceName(h.major, h.minor), operation: h.operation },
              histogram: { slots: h.slots, sumNs: h.sumNs },
            })),
          programStats: () => statsList(c.programStats()),
          close: () => c.close(),
        };
      }
    }
  } catch (err) {
    out.runqlat?.close();
    out.biolatency?.close();
    throw err;
  }
  return out;
}
