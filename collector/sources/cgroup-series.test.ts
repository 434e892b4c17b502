import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyHistogram, histogramCount, type Log2Histogram } from '../layouts/log2-hist.js';
import { cgroup2MountPoint, CgroupNames } from './cgroup-names.js';
import { CgroupLatencySeries, OTHER_SERIES, type CgroupRead } from './cgroup-series.js';

/** A cumulative histogram with `n` waits in slot `slot`. */
function hist(n: number, slot = 10): Log2Histogram {
  const h = emptyHistogram();
  h.slots[slot] = BigInt(n);
  h.sumNs = BigInt(n) * (1n << BigInt(slot));
  return h;
}

function counts(series: { attributes: Record<string, string>; histogram: { slots: ArrayLike<bigint | number> } }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series) out[s.attributes.container] = Number(histogramCount({ slots: Array.from(s.histogram.slots, BigInt), sumNs: 0n }));
  return out;
}

describe('CgroupLatencySeries', () => {
  const names: Record<string, string | null> = { '1': 'a', '2': 'b', '3': 'c', '4': 'd' };
  const labelOf = (id: bigint) => names[String(id)];

  it('gives the busiest cgroups series of their own, the rest and the overflow entry to other', () => {
    const s = new CgroupLatencySeries(2, 'container');
    const reads: CgroupRead[] = [
      { id: 1n, histogram: hist(5) },
      { id: 2n, histogram: hist(50) },
      { id: 3n, histogram: hist(30) },
      { id: 0n, histogram: hist(7) },
    ];
    const { series, gone } = s.update(reads, labelOf);
    expect(counts(series)).toEqual({ b: 50, c: 30, [OTHER_SERIES]: 12 });
    expect(gone).toEqual([]);
  });

  it('never lets a series go down: members keep their place, newcomers count from when they get one', () => {
    const s = new CgroupLatencySeries(2, 'container');
    s.update([{ id: 1n, histogram: hist(10) }, { id: 2n, histogram: hist(20) }, { id: 3n, histogram: hist(1) }], labelOf);
    // c becomes the busiest, but a and b still exist: they keep their series and c stays in other.
    const second = counts(s.update([{ id: 1n, histogram: hist(11) }, { id: 2n, histogram: hist(21) }, { id: 3n, histogram: hist(100) }], labelOf).series);
    expect(second).toEqual({ a: 11, b: 21, [OTHER_SERIES]: 100 });
    // a is removed (its cgroup is gone): its last waits go to other, its series ends, c takes the place.
    names['1'] = null;
    const third = s.update([{ id: 1n, histogram: hist(12) }, { id: 2n, histogram: hist(22) }, { id: 3n, histogram: hist(130) }], labelOf);
    expect(third.gone).toEqual([1n]);
    expect(counts(third.series)).toEqual({ b: 22, c: 30, [OTHER_SERIES]: 101 });
    names['1'] = 'a';
    // Every series is cumulative from here on.
    const fourth = counts(s.update([{ id: 2n, histogram: hist(23) }, { id: 3n, histogram: hist(131) }], labelOf).series);
    expect(fourth).toEqual({ b: 23, c: 31, [OTHER_SERIES]: 101 });
  });

  it('sums cgroups with the same label (a container with nested cgroups) and waits for names not known yet', () => {
    const s = new CgroupLatencySeries(5, 'container');
    const same = (id: bigint) => (id === 9n ? undefined : 'x');
    const { series } = s.update([{ id: 1n, histogram: hist(3) }, { id: 2n, histogram: hist(4) }, { id: 9n, histogram: hist(6) }], same);
    expect(counts(series)).toEqual({ x: 7, [OTHER_SERIES]: 6 });
  });
});

describe('CgroupNames', () => {
  it('names cgroup ids by their directory inode, container ids from the path, and says when one is gone', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cgroups-'));
    const hex = 'ab'.repeat(32);
    const container = path.join(root, 'system.slice', `docker-${hex}.scope`);
    fs.mkdirSync(container, { recursive: true });
    const service = path.join(root, 'system.slice', 'cron.service');
    fs.mkdirSync(service);
    let now = 0;
    const names = new CgroupNames({ root, minRescanMs: 1000, now: () => now });
    const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;
    expect(names.labelOf(ino(container))).toBe(hex);
    expect(names.labelOf(ino(service))).toBe('/system.slice/cron.service');
    expect(names.labelOf(ino(root))).toBe('/');
    expect(names.labelOf(ino(container), () => 'ns/pod/app')).toBe('ns/pod/app');
    // Made after the last scan: unknown until the next scan is allowed, then found.
    const later = path.join(root, 'later');
    fs.mkdirSync(later);
    expect(names.labelOf(ino(later))).toBeUndefined();
    now = 1500;
    expect(names.labelOf(ino(later))).toBe('/later');
    // Removed: gone once a scan after it was asked for did not find it.
    const removedIno = ino(service);
    fs.rmdirSync(service);
    now = 3000;
    expect(names.labelOf(removedIno)).toBe('/system.slice/cron.service'); // still in the last scan
    expect(names.labelOf(123456789n)).toBeUndefined();
    now = 4500;
    expect(names.labelOf(123456789n)).toBeNull();
    expect(names.scans).toBe(4);
    fs.rmSync(root, { recursive: true });
  });

  it('finds the cgroup2 mount in mountinfo text (unified or hybrid)', () => {
    const hybrid = '35 25 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n36 25 0:31 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n';
    expect(cgroup2MountPoint(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2MountPoint('30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n')).toBe('/sys/fs/cgroup');
    expect(cgroup2MountPoint('22 1 0:5 / /proc rw - proc proc rw\n')).toBeUndefined();
    expect(cgroup2MountPoint('30 1 0:26 / /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n')).toBe('/mnt/cg x');
  });
});
