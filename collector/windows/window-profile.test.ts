// buildWindowProfile for the io profile: sample types, and the device/operation labels of each aggregate on top
// of the thread's, one label object per distinct set (the store resolves a label set once per object).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Symbolizer } from '../symbolize/symbolizer.js';
import type { RawStackSample } from '../sources/index.js';
import { buildWindowProfile, sampleTypesOf } from './window-profile.js';

const dir = mkdtempSync(join(tmpdir(), 'hp-window-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildWindowProfile (io)', () => {
  it('has requests/count and io/nanoseconds, the time last (pprof\'s default)', () => {
    expect(sampleTypesOf('io')).toEqual({
      sampleTypes: [{ type: 'requests', unit: 'count' }, { type: 'io', unit: 'nanoseconds' }],
      periodType: { type: 'io', unit: 'nanoseconds' },
      period: 1,
    });
  });

  it('labels each sample with its device and operation beside the thread\'s labels, sharing equal label sets', () => {
    const proc = join(dir, 'proc');
    mkdirSync(join(proc, '77'), { recursive: true });
    writeFileSync(join(proc, '77', 'comm'), 'db\n');
    const s = new Symbolizer({ procRoot: proc, kallsymsText: '', debuginfod: null });
    const read = Object.freeze({ device: 'vda', operation: 'read' });
    const write = Object.freeze({ device: 'vda', operation: 'write' });
    const raw: RawStackSample[] = [
      { pid: 77, tid: 78, comm: 'db-io', kernelStack: [], userStack: [], count: 3, totalNs: 3000, labels: read },
      { pid: 77, tid: 78, comm: 'db-io', kernelStack: [], userStack: [], count: 1, totalNs: 5000, labels: write },
      { pid: 77, tid: 78, comm: 'db-io', kernelStack: [], userStack: [], count: 2, totalNs: 700, labels: read },
      { pid: 77, tid: 79, comm: 'db-io', kernelStack: [], userStack: [], count: 1, totalNs: 900, labels: read },
    ];
    const p = buildWindowProfile(raw, s, { kind: 'io', startNs: 0n, endNs: 1_000_000_000n });
    expect(p.samples.map((x) => x.values)).toEqual([[3, 3000], [1, 5000], [2, 700], [1, 900]]);
    expect(p.samples[0].strLabels).toEqual({ comm: 'db-io', process: 'db', device: 'vda', operation: 'read' });
    expect(p.samples[1].strLabels).toEqual({ comm: 'db-io', process: 'db', device: 'vda', operation: 'write' });
    expect(p.samples[0].numLabels).toEqual({ pid: 77, tid: 78 });
    expect(p.samples[2].strLabels).toBe(p.samples[0].strLabels);
    expect(p.samples[3].strLabels).not.toBe(p.samples[0].strLabels);
    expect(p.samples[3].numLabels).toEqual({ pid: 77, tid: 79 });
  });
});
