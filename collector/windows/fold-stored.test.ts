// The direct fold of stored windows against the pprof path it replaces for the UI: the selection built as a
// pprof profile (what /debug/pprof/* and "download pprof" serve), encoded, decoded and collapsed. Same stacks,
// same names and kinds, same order, same values, on windows made to hold every kind of frame the encoder and
// the collapser treat apart.
import { describe, expect, test } from 'vitest';
import type { ProfileData, ProfileFrame, ProfileMapping, ProfileSample } from '../../exporters/pprof/index.js';
import type { ProfileSelection } from '../agent/agent.js';
import { foldDirect, foldViaPprof } from '../test-support/fold-paths.js';
import { prng } from '../test-support/prng.js';
import { processRootName } from './fold-stored.js';
import type { LabelFilters } from './label-filter.js';
import { sampleTypesOf } from './window-profile.js';
import { WindowStore } from './window-store.js';

const S = 1_000_000_000n;
const T = 1_767_366_240n * S;

const mapping = (file: string, start: bigint, offset: bigint, buildId = 'ab12'): ProfileMapping => ({ file, buildId, start, limit: start + 0x100000n, offset, hasFunctions: true });

/** Windows holding every kind of frame: see the comments. Fresh frame objects per window where the collector makes them. */
function windows(seed: number, count: number): ProfileData[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  // Two objects for one file (per-process copies at other places): the encoder widens its mapping to the lower.
  const fooA = mapping('/usr/lib/libfoo.so.1', 0x4000n, 0x1000n);
  const fooB = mapping('/usr/lib/libfoo.so.1', 0x2000n, 0x400n);
  const fooC = mapping('/usr/lib/libfoo.so.1', 0x2000n, 0x999n); // same start, met later: not taken
  const bar = mapping('/opt/app/bin/bar', 0x400000n, 0n, '');
  const noName = mapping('', 0x1000n, 0n, '');
  const kallsyms = mapping('[kernel.kallsyms]', 0xffffffff81000000n, 0n, '');
  const fixed: ProfileFrame[] = [
    ...Array.from({ length: 12 }, (_, i): ProfileFrame => ({ address: 0x4100n + BigInt(i * 16), functionName: `foo_fn${i % 6}`, fileName: 'foo.c', line: i, kind: 'native', mapping: fooA })),
    { address: 0x4300n, kind: 'unknown', mapping: fooA }, // unsymbolized: libfoo.so.1+0x... from the widened start
    { address: 0x2100n, kind: 'unknown', mapping: fooB },
    { address: 0x2200n, kind: 'unknown', mapping: fooC },
    { address: 0x1000n, kind: 'unknown', mapping: fooA }, // below the widened start: named by address
    { address: 0x400500n, functionName: 'main', systemName: '_Z4mainv', kind: 'native', mapping: bar },
    { address: 0x400600n, functionName: 'main', systemName: 'main', fileName: 'main.c', kind: 'native', mapping: bar },
    { address: 0x400700n, functionName: '', kind: 'native', mapping: bar }, // empty name: unsymbolized
    { address: 0x400800n, kind: 'unknown', mapping: bar },
    { address: 0x1200n, kind: 'unknown', mapping: noName }, // a mapping without a file name: by address
    { address: 0xffffffff81001000n, functionName: 'do_syscall_64', kind: 'kernel' }, // kernel without a mapping
    { address: 0xffffffff81000800n, kind: 'kernel' }, // unsymbolized kernel frame: under [kernel.kallsyms]
    { address: 0xffffffff80fff000n, kind: 'kernel', mapping: kallsyms },
    { address: 0xffffffff81002000n, functionName: 'schedule', kind: 'kernel', mapping: kallsyms },
    { address: 0x10n, functionName: 'schedule', kind: 'native' }, // same name, another kind
    { address: 0x20n, functionName: 'handler [k]', kind: 'native' }, // classified kernel by its name
    { address: 0x30n, functionName: 'compute', fileName: '/app/lib.js', kind: 'native' }, // JIT by its file
    { address: 0x7f0000000000n, kind: 'unknown' }, // no mapping, no name
    { address: -5n, kind: 'unknown' }, // read as uint64
  ];
  const labels: Pick<ProfileSample, 'numLabels' | 'strLabels'>[] = [
    { numLabels: { pid: 100, tid: 100 }, strLabels: { comm: 'app' } },
    { numLabels: { pid: 100, tid: 101 }, strLabels: { comm: 'app' } },
    { numLabels: { pid: 200, tid: 200 }, strLabels: { comm: 'python3', process: 'python3', container_id: 'c1' } },
    { numLabels: { pid: 300, tid: 300 } }, // no comm: pid-300
    { numLabels: { pid: 0, tid: 0 }, strLabels: { comm: 'swapper/0' } }, // pid 0: comm alone
    { strLabels: { comm: 'kworker' } },
    {}, // no labels: no process frame
    { numLabels: { pid: 400.4, tid: 400 }, strLabels: { comm: 'rounded' } },
  ];
  const out: ProfileData[] = [];
  for (let w = 0; w < count; w++) {
    // JIT frames are made anew every window, as the symbolizer makes them.
    const jit: ProfileFrame[] = Array.from({ length: 5 }, (_, i) => ({ address: 0x3000n + BigInt(i), functionName: `JS:work${i} /app/x.js:1:${i}`, kind: 'jit' }));
    const pool = [...fixed, ...jit];
    const samples: ProfileSample[] = [];
    for (let i = 0; i < 60; i++) {
      const depth = 1 + Math.floor(rand() * 12);
      const frames = Array.from({ length: depth }, () => pick(pool));
      const n = Math.floor(rand() * 4);
      const values = [n, n * 1_010_101 + (rand() < 0.1 ? 0.5 : 0)];
      samples.push({ frames, values, ...pick(labels) });
    }
    samples.push({ frames: [fixed[0]], values: [1, 0], ...labels[0] }); // zero in the shown type: left out
    samples.push({ frames: [fixed[1]], values: [1, NaN], ...labels[0] }); // refused by the encoder
    // Deeper than 1024 frames: cut, and two stacks that differ only below the cut become one.
    const deep = Array.from({ length: 1100 }, (_, i) => fixed[i % 12]);
    samples.push({ frames: [fixed[20], ...deep], values: [1, 1_010_101], ...labels[1] });
    samples.push({ frames: [fixed[21], ...deep], values: [2, 2_020_202], ...labels[1] });
    out.push({ ...sampleTypesOf('cpu', 99), timeNanos: T + BigInt(w) * S, durationNanos: S, samples });
  }
  return out;
}

function selectionOf(store: WindowStore, pids: number[] = [], filters: LabelFilters = {}): ProfileSelection {
  return { kind: 'cpu', header: sampleTypesOf('cpu', 99), fromNs: T, toNs: T + 100n * S, pids, filters, windows: store.overlapping(T, T + 100n * S), catalog: store.catalog };
}

function storeOf(data: ProfileData[]): WindowStore {
  const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
  for (const d of data) store.add(d, d.timeNanos + d.durationNanos);
  return store;
}

describe('folding stored windows without pprof', () => {
  const store = storeOf(windows(7, 6));

  for (const processRoot of [true, false]) {
    test(`the same folded stacks as the pprof path (processRoot ${processRoot})`, () => {
      const sel = selectionOf(store);
      const want = foldViaPprof(sel, processRoot);
      const got = foldDirect(sel, processRoot);
      expect(got.sampleType).toEqual({ type: want.render.sampleType, unit: want.render.unit });
      expect(got.stacks.length).toBe(want.stacks.length);
      expect(got.stacks).toEqual(want.stacks);
      // Not vacuous: the windows reach the cases above.
      const names = new Set(got.stacks.flatMap((s) => s.frames.map((f) => f.name)));
      // Offsets from the widened mapping (lowest start; of the two objects at it, the offset of the one met first).
      expect([...names].filter((n) => n.startsWith('libfoo.so.1+0x')).length).toBeGreaterThanOrEqual(3);
      expect(names).toContain('bar+0x800');
      expect(names).toContain('0x1000');
      expect(names).toContain('[kernel.kallsyms]+0x800'); // from the lowest unmapped kernel address
      expect(names).toContain('0xfffffffffffffffb');
      if (processRoot) {
        expect(names).toContain('pid-300');
        expect(names).toContain('swapper/0');
        expect(names).toContain('rounded-400');
        expect(got.stacks.some((s) => s.frames[0].processRoot)).toBe(true);
      }
      expect(got.stacks.some((s) => s.frames.length === 1024)).toBe(true);
    });
  }

  test('the same under pid and label filters', () => {
    for (const [pids, filters] of [[[100], {}], [[], { comm: ['python3', 'kworker'] }], [[200, 300], { container: ['c1'] }]] as [number[], LabelFilters][]) {
      const sel = selectionOf(store, pids, filters);
      expect(foldDirect(sel, true).stacks).toEqual(foldViaPprof(sel, true).stacks);
    }
  });

  test('other seeds, and a window set the encoder meets in another order', () => {
    for (const seed of [1, 2, 3]) {
      const data = windows(seed, 4);
      const sel = selectionOf(storeOf(data.reverse()));
      expect(foldDirect(sel, true).stacks).toEqual(foldViaPprof(sel, true).stacks);
    }
  });

  test('an empty selection folds to nothing', () => {
    const sel = selectionOf(storeOf([]));
    expect(foldDirect(sel, true).stacks).toEqual([]);
  });

  test('processRootName reads the labels as the collapser reads the encoded ones', () => {
    expect(processRootName({ numLabels: { pid: 7 }, strLabels: { comm: 'x' }, pid: 7 })).toBe('x-7');
    expect(processRootName({ numLabels: { pid: 0 }, strLabels: { comm: 'x' }, pid: 0 })).toBe('x');
    expect(processRootName({ numLabels: { pid: 7 }, pid: 7 })).toBe('pid-7');
    expect(processRootName({ numLabels: { tid: 7 }, pid: -1 })).toBeUndefined();
    expect(processRootName({ numLabels: { pid: Infinity }, strLabels: { comm: 'y' }, pid: -1 })).toBe('y');
  });
});
