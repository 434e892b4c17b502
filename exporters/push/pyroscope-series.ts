// Splits one window's profile into Pyroscope series: one pprof per service, labelled as Pyroscope expects
// (__name__ per profile type, service_name) plus where the samples came from (process, container, pod).
import type { ProfileData, ProfileSample } from '../pprof/types.js';

/** Pyroscope's profile names (grafana/pyroscope pkg/model: process_cpu, and off_cpu for off-CPU time). */
export const PYROSCOPE_PROFILE_NAMES: Readonly<Record<string, string>> = { cpu: 'process_cpu', offcpu: 'off_cpu' };

/** The service_name of the samples past the series bound, merged into one series. */
export const OTHER_SERVICE = 'other';

/** At most this many series per window and profile type (the busiest services), the rest under "other". */
export const DEFAULT_MAX_SERIES = 64;

export interface SeriesSplitOptions {
  /** Pyroscope's __name__ (e.g. process_cpu). */
  profileName: string;
  /** Labels added to every series (--pyroscope-label); they win over ours, never over __name__. */
  extraLabels?: Readonly<Record<string, string>>;
  maxSeries?: number;
}

export interface ProfileSeries {
  /** Sorted by name, __name__ first (it sorts first). */
  labels: [string, string][];
  data: ProfileData;
  /** The series' weight: the sum of the profile's last value type (cpu or off-CPU nanoseconds). */
  weight: number;
}

/**
 * The series labels of one sample, from its string labels: Kubernetes labels when present (namespace,
 * workload, pod, container), else the process name, its container id and its pod uid.
 */
export function seriesLabelsOf(s: ProfileSample): Record<string, string> {
  const l = s.strLabels ?? {};
  const out: Record<string, string> = {};
  const process = l.process ?? l.comm;
  out.service_name = l.namespace && l.workload ? `${l.namespace}/${l.workload}` : (process || 'unknown');
  if (process) out.process = process;
  const container = l.container ?? l.container_id;
  if (container) out.container = container;
  const pod = l.pod ?? l.pod_uid;
  if (pod) out.pod = pod;
  return out;
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/**
 * Groups a window's samples by their series labels. Past maxSeries the lightest series are merged into one
 * whose only labels are service_name="other" and the extra labels. Empty windows give no series.
 */
export function splitSeries(data: ProfileData, opts: SeriesSplitOptions): ProfileSeries[] {
  const max = Math.max(1, opts.maxSeries ?? DEFAULT_MAX_SERIES);
  const valueIndex = data.sampleTypes.length - 1;
  const groups = new Map<string, { labels: Record<string, string>; samples: ProfileSample[]; weight: number }>();
  for (const s of data.samples) {
    const labels = seriesLabelsOf(s);
    const k = key(labels);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { labels, samples: [], weight: 0 }));
    g.samples.push(s);
    g.weight += s.values[valueIndex] ?? 0;
  }
  const ranked = [...groups.values()].sort((a, b) => b.weight - a.weight);
  const kept = ranked.length > max ? ranked.slice(0, max - 1) : ranked;
  if (ranked.length > max) {
    const rest = ranked.slice(max - 1);
    kept.push({
      labels: { service_name: OTHER_SERVICE },
      samples: rest.flatMap((g) => g.samples),
      weight: rest.reduce((a, g) => a + g.weight, 0),
    });
  }
  return kept.map((g) => {
    const labels: Record<string, string> = { ...g.labels, ...opts.extraLabels, __name__: opts.profileName };
    // Delta profiles: tells Pyroscope not to compute a delta itself (as Alloy's delta appenders do).
    labels.__delta__ = 'false';
    return {
      labels: Object.keys(labels).sort().map((k) => [k, labels[k]] as [string, string]),
      data: { ...data, samples: g.samples },
      weight: g.weight,
    };
  });
}
