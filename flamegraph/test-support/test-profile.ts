// A hand-built pprof profile shared by the collapse and golden tests: inlined lines, unsymbolized
// addresses, a kernel mapping, JIT frames, Go-style sample types and process labels.
import {
  Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType,
} from 'pprof-format';

export function buildTestProfile(opts: { defaultSampleType?: string } = {}): Profile {
  const st = new StringTable();
  const s = (x: string) => st.dedup(x);
  const mapping = [
    new Mapping({ id: 1, memoryStart: 0x400000n, memoryLimit: 0x500000n, fileOffset: 0x1000n, filename: s('/usr/bin/app'),
      buildId: s('abcdef'), hasFunctions: true }),
    new Mapping({ id: 2, memoryStart: 0xffffffff81000000n, memoryLimit: 0xffffffff82000000n, filename: s('[kernel.kallsyms]'),
      hasFunctions: true }),
    new Mapping({ id: 3, memoryStart: 0x7f0000000000n, memoryLimit: 0x7f0000100000n, filename: s('[jit]'), hasFunctions: true }),
  ];
  const fn = (id: number, name: string, file = 'app.c') => new PprofFunction({ id, name: s(name), systemName: s(name), filename: s(file) });
  const functions = [
    fn(1, 'main'), fn(2, 'compute'), fn(3, 'inner_inlined'), fn(4, 'do_syscall_64', ''), fn(5, 'JS:*handler /srv/app.js:10:3', ''),
    fn(6, 'Builtin:JSEntry', ''), fn(7, '', ''), fn(8, 'vfs_read', ''),
  ];
  const loc = (id: number, mappingId: number, address: bigint, fnIds: number[]) =>
    new Location({ id, mappingId, address, line: fnIds.map((f) => new Line({ functionId: f, line: 10 + f })) });
  const location = [
    loc(1, 1, 0x401000n, [1]),
    // compute with inner_inlined inlined into it: pprof lists the innermost first, the caller last.
    loc(2, 1, 0x401100n, [3, 2]),
    loc(3, 2, 0xffffffff81001000n, [4]),
    loc(4, 2, 0xffffffff81002000n, [8]),
    loc(5, 3, 0x7f0000000100n, [5]),
    loc(6, 3, 0x7f0000000200n, [6]),
    loc(7, 1, 0x401234n, []), // unsymbolized, inside the app mapping
    loc(8, 0, 0xdead0n, []), // no mapping at all
    loc(9, 1, 0x401300n, [7]), // a function without a name
  ];
  const label = (k: string, v: string | number) =>
    typeof v === 'number' ? new Label({ key: s(k), num: v }) : new Label({ key: s(k), str: s(v) });
  const proc = [label('pid', 42), label('tid', 43), label('comm', 'app')];
  const sample = (leafFirst: number[], count: number, ns: number | bigint, labels = proc) =>
    new Sample({ locationId: leafFirst, value: [count, ns], label: labels });
  const samples = [
    sample([2, 1], 3, 30_000_000),
    sample([2, 1], 1, 10_000_000), // merges with the one above
    sample([4, 3, 1], 2, 20_000_000),
    sample([5, 6, 1], 4, 40_000_000, [label('pid', 7), label('comm', 'node')]),
    sample([7, 1], 1, 10_000_000),
    sample([8], 1, 10_000_000, []),
    sample([9, 1], 1, 10_000_000),
    sample([1], 0, 0), // zero: no frame
    sample([1], 1, -5n & 0xffffffffffffffffn), // negative int64 (as the decoder gives it): dropped, counted
  ];
  return new Profile({
    sampleType: [new ValueType({ type: s('samples'), unit: s('count') }), new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
    periodType: new ValueType({ type: s('cpu'), unit: s('nanoseconds') }),
    period: 10_000_000,
    defaultSampleType: opts.defaultSampleType ? s(opts.defaultSampleType) : 0,
    mapping, function: functions, location, sample: samples, stringTable: st,
  });
}

/** The profile after an encode/decode round trip, as a reader of a real file would see it. */
export function decodedTestProfile(opts: { defaultSampleType?: string } = {}): Profile {
  return Profile.decode(buildTestProfile(opts).encode());
}
