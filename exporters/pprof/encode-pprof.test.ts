import { describe, expect, test } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Label, Profile, Sample } from 'pprof-format';
import { ExporterError } from '../errors.js';
import { buildPprof, buildPprofWithStats, decodePprof, encodePprofGzip, encodePprofSteps, PprofBuilder } from './encode-pprof.js';
import { APP_BUILD_ID, fixture, LIBC_BUILD_ID, PERIOD, WORKER_BUILD_ID } from './test-support/fixture.js';

/** Resolves a decoded profile's references into names, so assertions read like pprof's own output. */
function view(p: Profile) {
  const s = (i: number | bigint) => p.stringTable.strings[Number(i)];
  const fn = new Map(p.function.map((f) => [Number(f.id), f]));
  const loc = new Map(p.location.map((l) => [Number(l.id), l]));
  const map = new Map(p.mapping.map((m) => [Number(m.id), m]));
  const frameName = (id: number | bigint): string => {
    const l = loc.get(Number(id))!;
    if (l.line.length > 0) return s(fn.get(Number(l.line[0].functionId))!.name);
    const m = map.get(Number(l.mappingId));
    return `${m ? s(m.filename) : '-'}@0x${BigInt(l.address).toString(16)}`;
  };
  const samples = p.sample.map((x) => ({
    frames: x.locationId.map(frameName),
    values: x.value.map(Number),
    labels: Object.fromEntries(x.label.map((l) => [s(l.key), Number(l.str) !== 0 ? s(l.str) : Number(l.num)])),
  }));
  return { s, fn, loc, map, samples };
}

describe('buildPprof / encodePprofGzip', () => {
  test('encodes a Go-style CPU profile that decodes back with pprof-format', async () => {
    const gz = await encodePprofGzip(fixture());
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    const p = Profile.decode(gunzipSync(gz));
    const { s, samples } = view(p);

    expect(p.stringTable.strings[0]).toBe('');
    expect(new Set(p.stringTable.strings).size).toBe(p.stringTable.strings.length); // deduped
    expect(p.sampleType.map((t) => `${s(t.type)}/${s(t.unit)}`)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(`${s(p.periodType!.type)}/${s(p.periodType!.unit)}`).toBe('cpu/nanoseconds');
    expect(Number(p.period)).toBe(PERIOD);
    expect(BigInt(p.timeNanos)).toBe(1_700_000_000_000_000_000n);
    expect(Number(p.durationNanos)).toBe(10_000_000_000);
    expect(p.comment.map(s)).toEqual(['hotpath test profile']);

    // The two identical app samples are merged; leaf first; labels as numbers and strings.
    expect(samples).toEqual([
      {
        frames: ['finish_task_switch', 'schedule', '/usr/lib/x86_64-linux-gnu/libc.so.6@0x2a1b0', 'hot_loop', 'main'],
        values: [5, 5 * PERIOD],
        labels: { pid: 100, tid: 100, comm: 'app' },
      },
      {
        frames: ['JS:*osprey_hot /srv/app.js:1:20', '[jit]@0x7f0000002000', 'Builtin:JSEntry', 'main'],
        values: [4, 4 * PERIOD],
        labels: { pid: 100, tid: 101, comm: 'app' },
      },
      {
        frames: ['irq_exit', '/usr/lib/x86_64-linux-gnu/libc.so.6@0x2a1b0', '-@0xdeadbeef', 'work'],
        values: [7, 7 * PERIOD],
        labels: { pid: 200, tid: 200, comm: 'worker; v2' },
      },
    ]);
  });

  test('dedupes mappings, functions and locations; ids start at 1', () => {
    const { profile: p, stats } = buildPprofWithStats(fixture());
    const { s, fn, map } = view(p);
    expect(stats).toMatchObject({ samplesIn: 4, samplesOut: 3, samplesDropped: 0 });

    // One mapping per file + build-id; the main executable first, pseudo-files last.
    expect(p.mapping.map((m) => [Number(m.id), s(m.filename), s(m.buildId), m.hasFunctions])).toEqual([
      [1, '/usr/bin/app', APP_BUILD_ID, true],
      [2, '/opt/worker', WORKER_BUILD_ID, true],
      [3, '/usr/lib/x86_64-linux-gnu/libc.so.6', LIBC_BUILD_ID, false],
      [4, '[kernel.kallsyms]', '', true],
      [5, '[jit]', '', true],
    ]);
    // Two libc mapping objects (two processes) became one mapping covering both ranges.
    const libc = p.mapping[2];
    expect([BigInt(libc.memoryStart), BigInt(libc.memoryLimit), BigInt(libc.fileOffset)]).toEqual([0x26000n, 0x190000n, 0x26000n]);
    // The kernel frame handed over without a mapping landed under [kernel.kallsyms].
    const irq = p.location.find((l) => l.line.length && s(fn.get(Number(l.line[0].functionId))!.name) === 'irq_exit')!;
    expect(s(map.get(Number(irq.mappingId))!.filename)).toBe('[kernel.kallsyms]');

    // 11 distinct frames: the shared libc address and `main` appear once each.
    expect(p.location.map((l) => Number(l.id))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const libcLocs = p.location.filter((l) => BigInt(l.address) === 0x2a1b0n);
    expect(libcLocs).toHaveLength(1);
    expect(libcLocs[0].line).toEqual([]); // unsymbolized: address + mapping only
    expect(Number(libcLocs[0].mappingId)).toBe(3);
    // JIT code reused an address: two locations at 0x7f0000001000, one per function.
    expect(p.location.filter((l) => BigInt(l.address) === 0x7f0000001000n)).toHaveLength(2);

    const names = p.function.map((f) => s(f.name));
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(
      ['Builtin:JSEntry', 'JS:*osprey_hot /srv/app.js:1:20', 'finish_task_switch', 'hot_loop', 'irq_exit', 'main', 'schedule', 'work'],
    );
    const hot = p.function.find((f) => s(f.name) === 'hot_loop')!;
    expect([s(hot.systemName), s(hot.filename)]).toEqual(['_Z8hot_loopv', 'app.c']);
    const hotLoc = p.location.find((l) => l.line.length && Number(l.line[0].functionId) === Number(hot.id))!;
    expect([BigInt(hotLoc.address), Number(hotLoc.line[0].line)]).toEqual([0x1140n, 12]);
  });

  test('encodePprofSteps gives the bytes encode() gives, in steps', () => {
    // Many samples, locations and strings, so several chunks of every list and multi-byte lengths.
    const data = fixture();
    for (let i = 0; i < 3000; i++) {
      data.samples.push({
        frames: [{ address: BigInt(0x10000 + i), functionName: `fn_${i}_${'x'.repeat(i % 300)}`, kind: 'native' }],
        values: [i, i * PERIOD],
        numLabels: { pid: i % 17, tid: i },
        strLabels: { comm: `c${i % 5}` },
      });
    }
    const profile = buildPprof(data);
    const steps = encodePprofSteps(profile, 100);
    let yields = 0;
    let r = steps.next();
    while (!r.done) {
      yields++;
      r = steps.next();
    }
    expect(yields).toBeGreaterThan(50);
    expect(Buffer.from(r.value).equals(Buffer.from(profile.encode()))).toBe(true);
    // Values the fast sample writer leaves to pprof-format (negative as in a diff, BigInt as decoding gives past
    // 32 bits) beside ones it writes itself (zeros, 2^40, labels shared between samples), and a decoded copy.
    const shared = [new Label({ key: 1, num: 7 }), new Label({ key: 2, str: 3 })];
    profile.sample.push(
      new Sample({ locationId: [1, 2], value: [-5, 0], label: shared }),
      new Sample({ locationId: [1], value: [2 ** 40, 0], label: shared }),
      new Sample({ locationId: [3n ** 30n, 1], value: [1n, 2 ** 53 + 2], label: [] }),
      new Sample({ locationId: [], value: [0, 0], label: shared }),
    );
    const odd = encodePprofSteps(profile, 100);
    let oddR = odd.next();
    while (!oddR.done) oddR = odd.next();
    expect(Buffer.from(oddR.value).equals(Buffer.from(profile.encode()))).toBe(true);
    const decoded = Profile.decode(profile.encode());
    expect(Buffer.from(encodePprofSteps(decoded, 1e9).next().value as Uint8Array).equals(Buffer.from(decoded.encode()))).toBe(true);
    // An empty profile too.
    const empty = buildPprof({ ...data, samples: [] });
    expect(Buffer.from(encodePprofSteps(empty).next().value as Uint8Array).equals(Buffer.from(empty.encode()))).toBe(true);
  });

  test('PprofBuilder over several windows gives what building their concatenation gives', () => {
    const a = fixture();
    const b = fixture();
    const builder = new PprofBuilder(a);
    for (const s of [...a.samples, ...b.samples]) builder.add(s);
    const { profile, stats } = builder.finish({ timeNanos: a.timeNanos, durationNanos: 2n * a.durationNanos });
    const whole = buildPprof({ ...a, durationNanos: 2n * a.durationNanos, comments: [], samples: [...a.samples, ...b.samples] });
    expect(Buffer.from(profile.encode()).equals(Buffer.from(whole.encode()))).toBe(true);
    expect(stats.samplesIn).toBe(8);
    expect(profile.sample.map((x) => Number(x.value[0]))).toEqual([10, 8, 14]);
  });

  test('drops and counts samples whose values do not match the sample types', () => {
    const data = fixture();
    data.samples.push({ frames: [], values: [1] }, { frames: [], values: [1, Number.NaN] });
    const { profile, stats } = buildPprofWithStats(data);
    expect(stats.samplesDropped).toBe(2);
    expect(profile.sample).toHaveLength(3);
  });

  test('go tool pprof reads the file: functions, values, labels, mappings with build ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotpath-pprof-'));
    try {
      const file = join(dir, 'cpu.pb.gz');
      writeFileSync(file, await encodePprofGzip(fixture()));
      const env = { ...process.env, HOME: dir, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), PPROF_TMPDIR: dir };
      const pprof = (...args: string[]) =>
        execFileSync('/usr/bin/go', ['tool', 'pprof', '-symbolize=none', ...args, file], { env, timeout: 60_000 }).toString();

      const raw = pprof('-raw');
      expect(raw).toContain('PeriodType: cpu nanoseconds');
      expect(raw).toContain(`Period: ${PERIOD}`);
      expect(raw).toContain('Duration: 10s');
      expect(raw).toContain('samples/count cpu/nanoseconds');
      expect(raw).toMatch(new RegExp(`^\\s+5\\s+${5 * PERIOD}: `, 'm'));
      expect(raw).toMatch(new RegExp(`^\\s+7\\s+${7 * PERIOD}: `, 'm'));
      expect(raw).toContain('pid:[100] tid:[101]');
      expect(raw).toContain('comm:[worker; v2]');
      expect(raw).toMatch(/0x1140 M=\d+ hot_loop app\.c:12 s=0\(_Z8hot_loopv\)/);
      expect(raw).toMatch(/0x2a1b0 M=\d+ \n/);
      expect(raw).toContain(`0x1000/0x5000/0x1000 /usr/bin/app ${APP_BUILD_ID} [FN]`);
      expect(raw).toMatch(new RegExp(`/usr/lib/x86_64-linux-gnu/libc\\.so\\.6 ${LIBC_BUILD_ID} ?\\n`));
      expect(raw).toContain('[kernel.kallsyms]  [FN]');

      const top = pprof('-top');
      expect(top).toContain('File: app');
      expect(top).toContain(`Build ID: ${APP_BUILD_ID}`);
      expect(top).toContain('Total samples = 161.62ms');
      expect(top).toMatch(/70\.71ms\s+43\.75%\s+43\.75%\s+70\.71ms\s+43\.75%\s+irq_exit/);
      expect(top).toMatch(/0\s+0%\s+100%\s+90\.91ms\s+56\.25%\s+main/);

      const counts = pprof('-top', '-sample_index=samples');
      expect(counts).toMatch(/^\s+5\s+31\.25%.*finish_task_switch$/m);

      // Go's own writer (pprof -proto) re-encodes it; decodePprof must read Go's encoding back the same.
      const goWritten = execFileSync('/usr/bin/go', ['tool', 'pprof', '-symbolize=none', '-proto', file], { env, timeout: 60_000 });
      expect([goWritten[0], goWritten[1]]).toEqual([0x1f, 0x8b]);
      const back = view(decodePprof(goWritten));
      const mine = view(buildPprofWithStats(fixture()).profile);
      const byLabels = (xs: typeof mine.samples) => [...xs].sort((a, b) => String(a.labels.tid).localeCompare(String(b.labels.tid)));
      expect(byLabels(back.samples)).toEqual(byLabels(mine.samples));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decodePprof', () => {
  test('reads gzipped and raw bytes', async () => {
    const gz = await encodePprofGzip(fixture());
    const raw = Buffer.from(gunzipSync(gz));
    for (const buf of [gz, raw]) {
      const p = decodePprof(buf);
      expect(p.sample.map((x) => Number(x.value[0]))).toEqual([5, 4, 7]);
      expect(p.stringTable.strings[0]).toBe('');
    }
  });

  test('refuses a profile that decompresses beyond the bound', async () => {
    const gz = await encodePprofGzip(fixture());
    expect(() => decodePprof(gz, { maxDecodedBytes: 100 })).toThrow(/larger than 100 bytes decompressed/);
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    expect(() => decodePprof(bomb, { maxDecodedBytes: 1024 * 1024 })).toThrow(ExporterError);
  });

  test('bad input gives a coded ExporterError naming the step', () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /empty input/],
      [Buffer.from([0x1f, 0x8b, 1, 2, 3]), /gunzip/],
      [Buffer.from('this is not a profile\n'), /decode pprof: /],
      // Field 2 (sample) pointing at location 9, which does not exist.
      [Buffer.from([0x12, 0x02, 0x08, 0x09]), /missing location 9/],
    ];
    for (const [buf, re] of cases) {
      let err: unknown;
      try {
        decodePprof(buf);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ExporterError);
      expect((err as ExporterError).code).toBe('HP_ERR_INPUT');
      expect((err as Error).message).toMatch(re);
    }
  });
});
