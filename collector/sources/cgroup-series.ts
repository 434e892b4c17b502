// Run-queue latency per cgroup (issue 14), as a bounded set of Prometheus series: the kernel keeps a cumulative
// histogram per cgroup id; this turns them into at most `maxSeries` labelled series plus `other`, each a
// counter that never goes down. Pure: the reads and the names come in as arguments.
//
// A series gets what its cgroups add from the moment it exists (the deltas of the kernel's cumulative counts),
// so a cgroup moving from `other` into a series of its own leaves its earlier waits in `other`, and no series
// ever decreases. Series are kept while any of their cgroups exists; free places go to the busiest cgroups of
// the read (most waits since the last read).
import { emptyHistogram, histogramCount, histogramDelta, type Log2Histogram } from '../layouts/log2-hist.js';
import type { HistogramSeries } from './types.js';

/** The label value of the series everything beyond the bound (and the kernel's overflow entry) goes to. */
export const OTHER_SERIES = 'other';

export interface CgroupRead {
  /** cgroup v2 id; 0 is the kernel's overflow entry. */
  id: bigint;
  /** Cumulative since the entry was made. */
  histogram: Log2Histogram;
}

/**
 * What a cgroup id is called: the label value (a container id, a pod's namespace/pod/container, else its
 * path), `null` when it no longer exists (its entry can go), undefined when not known yet.
 */
export type CgroupLabeler = (id: bigint) => string | null | undefined;

export interface CgroupSeriesUpdate {
  series: HistogramSeries[];
  /** Ids of cgroups that no longer exist: their kernel entries can be deleted. */
  gone: bigint[];
}

function addInto(into: Log2Histogram, delta: Log2Histogram): void {
  for (let i = 0; i < into.slots.length; i++) into.slots[i] += delta.slots[i] ?? 0n;
  into.sumNs += delta.sumNs;
}

export class CgroupLatencySeries {
  private readonly last = new Map<bigint, Log2Histogram>();
  private readonly members = new Map<string, Log2Histogram>();
  private readonly other = emptyHistogram();

  /** `label` is the attribute the series carry (e.g. `container`). */
  constructor(
    private readonly maxSeries: number,
    private readonly label: string,
  ) {}

  /** Series currently given a place of their own (not counting `other`). */
  get size(): number {
    return this.members.size;
  }

  update(reads: readonly CgroupRead[], labelOf: CgroupLabeler): CgroupSeriesUpdate {
    const gone: bigint[] = [];
    const deltas = new Map<string, Log2Histogram>();
    let toOther = emptyHistogram();
    const seenLabels = new Set<string>();
    for (const r of reads) {
      const before = this.last.get(r.id);
      const delta = before ? histogramDelta(r.histogram, before) : r.histogram;
      this.last.set(r.id, r.histogram);
      if (histogramCount(delta) < 0n) continue; // an entry deleted and made again meanwhile: skip one read
      const name = r.id === 0n ? OTHER_SERIES : labelOf(r.id);
      if (name === null) {
        gone.push(r.id);
        this.last.delete(r.id);
      }
      if (name === null || name === undefined || name === OTHER_SERIES) {
        addInto(toOther, delta);
        continue;
      }
      seenLabels.add(name);
      const d = deltas.get(name);
      if (d) addInto(d, delta);
      else deltas.set(name, { slots: [...delta.slots], sumNs: delta.sumNs });
    }
    // Entries not read any more (deleted by the caller) are forgotten.
    if (this.last.size > reads.length) {
      const ids = new Set(reads.map((r) => r.id));
      for (const id of this.last.keys()) if (!ids.has(id)) this.last.delete(id);
    }
    // A series whose cgroups are all gone ends.
    for (const name of this.members.keys()) if (!seenLabels.has(name)) this.members.delete(name);
    // Free places to the busiest of this read.
    if (this.members.size < this.maxSeries) {
      const candidates = [...deltas].filter(([name, d]) => !this.members.has(name) && histogramCount(d) > 0n);
      candidates.sort((a, b) => {
        const ca = histogramCount(a[1]);
        const cb = histogramCount(b[1]);
        return ca === cb ? (a[0] < b[0] ? -1 : 1) : cb > ca ? 1 : -1;
      });
      for (const [name] of candidates.slice(0, this.maxSeries - this.members.size)) this.members.set(name, emptyHistogram());
    }
    for (const [name, d] of deltas) {
      const m = this.members.get(name);
      if (m) addInto(m, d);
      else addInto(toOther, d);
    }
    addInto(this.other, toOther);
    toOther = this.other;
    const series: HistogramSeries[] = [...this.members].map(([name, h]) => ({ attributes: { [this.label]: name }, histogram: { slots: [...h.slots], sumNs: h.sumNs } }));
    if (histogramCount(toOther) > 0n) series.push({ attributes: { [this.label]: OTHER_SERIES }, histogram: { slots: [...toOther.slots], sumNs: toOther.sumNs } });
    return { series, gone };
  }
}
