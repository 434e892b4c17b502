// Real kernel, as root: hotpath's biolatency beside libbpf-tools' biolatency -D while fio reads directly.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BiolatencySource, type BioHistogram } from './biolatency.js';
import { emptyHistogram, histogramCount, histogramDelta, medianSlot, type Log2Histogram } from '../layouts/log2-hist.js';
import { parseToolHistograms, runTool, runToCompletion, toolCount, toolMedianIndex } from './test-support/libbpf-tools.js';
import { diskOf } from './test-support/block-devices.js';

const FIO_FILE = `/var/tmp/hp-fio-${process.pid}`;
let collector: BiolatencySource | null = null;
afterEach(() => {
  collector?.close();
  collector = null;
});
afterAll(() => rm(FIO_FILE, { force: true }));

function sumFor(hists: BioHistogram[], major: number, minor: number, op?: string): Log2Histogram {
  const total = emptyHistogram();
  for (const h of hists) {
    if (h.major !== major || h.minor !== minor || (op && h.operation !== op)) continue;
    h.slots.forEach((v, i) => (total.slots[i] += v));
    total.sumNs += h.sumNs;
  }
  return total;
}

function toolIndexOfSlot(k: number): number {
  const midUs = 2 ** (k - 0.5) / 1000;
  return midUs < 2 ? 0 : Math.floor(Math.log2(midUs));
}

describe('BiolatencySource', () => {
  it('reads block_rq_issue signature from BTF and agrees with libbpf-tools biolatency -D under fio', async () => {
    const disk = diskOf('/var/tmp');
    expect(disk.name).toMatch(/^[a-z]/); // resolved through /sys/dev/block/M:m/uevent (vda on the project VM)
    await runToCompletion('fio', ['--name=layout', `--filename=${FIO_FILE}`, '--size=64M', '--rw=write', '--bs=1M', '--create_only=1']);
    await runToCompletion('fio', ['--name=layout', `--filename=${FIO_FILE}`, '--size=64M', '--rw=write', '--bs=1M', '--direct=1']);

    collector = BiolatencySource.start();
    expect(collector.variant).toBe('tp_btf');
    expect(collector.issueRequestArg).toBe(0);
    const tool = runTool('/usr/sbin/biolatency', ['-D', '4', '1']);
    await tool.attached;
    const before = collector.read();
    const fio = await runToCompletion('fio', [
      '--name=t', `--filename=${FIO_FILE}`, '--size=64M', '--rw=randread', '--direct=1', '--bs=4k',
      '--ioengine=psync', '--time_based', '--runtime=2', '--output-format=json',
    ]);
    await tool.seen(/usecs/);
    const after = collector.read();
    const theirs = parseToolHistograms(await tool.done).find((h) => h.label === `disk = ${disk.name}`);
    expect(theirs).toBeDefined();

    const ours = histogramDelta(sumFor(after, disk.major, disk.minor), sumFor(before, disk.major, disk.minor));
    const ourReads = histogramDelta(sumFor(after, disk.major, disk.minor, 'read'), sumFor(before, disk.major, disk.minor, 'read'));
    const fioReads = JSON.parse(fio.slice(fio.indexOf('{'))).jobs[0].read.total_ios as number;
    expect(fioReads).toBeGreaterThan(500);
    // Every fio read reached the disk (direct I/O) and was classified as a read (fio's own count can be one
    // above what reached the block layer).
    expect(Number(histogramCount(ourReads))).toBeGreaterThanOrEqual(fioReads * 0.99);
    expect(Number(histogramCount(ourReads))).toBeLessThan(fioReads * 1.1);
    const theirCount = toolCount(theirs!);
    expect(Math.abs(Number(histogramCount(ours)) - theirCount) / theirCount).toBeLessThan(0.1);
    expect(Math.abs(toolIndexOfSlot(medianSlot(ours)) - toolMedianIndex(theirs!))).toBeLessThanOrEqual(1);
    console.log(`biolatency: ours ${histogramCount(ours)} I/Os (median slot ${medianSlot(ours)}), biolatency -D ${theirCount} ` +
      `(median bucket ${toolMedianIndex(theirs!)}), fio ${fioReads} reads`);
  });

  it('raw_tp twins count writes and flushes too', async () => {
    collector = BiolatencySource.start({ variant: 'raw_tp' });
    expect(collector.variant).toBe('raw_tp');
    await runToCompletion('fio', [
      '--name=w', `--filename=${FIO_FILE}`, '--size=16M', '--rw=randwrite', '--direct=1', '--bs=4k', '--fsync=1',
      '--ioengine=psync', '--io_size=1M',
    ]);
    const disk = diskOf('/var/tmp');
    const ops = new Set(collector.read().filter((h) => h.major === disk.major && h.minor === disk.minor && histogramCount(h) > 0n).map((h) => h.operation));
    expect(ops.has('write')).toBe(true);
    expect(ops.has('flush')).toBe(true);
    expect(collector.programStats().map((s) => s.program).sort()).toEqual(['bio_complete_raw', 'bio_issue_raw']);
    expect(collector.lost()).toEqual({ biolatency_start_map_full: 0, biolatency_hist_map_full: 0 });
    collector.close();
    expect(() => collector!.read()).toThrow(/closed/);
  });
});
