import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parsePerfMap, type PerfMapTable } from './perf-map.js';

const MAP = [
  '3ef8a0c0 1c Builtin:JSEntry',
  '3ef8a100 40 JS:*osprey_hot /path/app.js:1:20',
  '0x3ef8a200 0x10 LazyCompile:~main file:///srv/my app/index.mjs:3:1',
  'nonsense',
  'zz 10 bad address',
  '3ef8a300 10 ',
  '3ef8a100 20 JS:*osprey_hot_reoptimized /path/app.js:1:20', // same start later: newest wins
  '3ef8a400 0 Zero',
  '3ef8a500 8 partial-without-newline',
].join('\n');

describe('parsePerfMap', () => {
  const t = parsePerfMap(MAP);

  it('parses names with spaces, optional 0x, and counts bad lines', () => {
    expect(t.malformedLines).toBe(3);
    expect(t.entryCount).toBe(4); // the unterminated last line is still being written: ignored
    expect(t.lookup(0x3ef8a0c0n + 0x1bn)?.name).toBe('Builtin:JSEntry');
    expect(t.lookup(0x3ef8a0c0n + 0x1cn)).toBeUndefined();
    expect(t.lookup(0x3ef8a205n)).toEqual({ name: 'LazyCompile:~main file:///srv/my app/index.mjs:3:1', address: 0x3ef8a200n, size: 16 });
  });

  it('lets a later entry for the same start replace an earlier one', () => {
    expect(t.lookup(0x3ef8a110n)?.name).toBe('JS:*osprey_hot_reoptimized /path/app.js:1:20');
    expect(t.lookup(0x3ef8a130n)).toBeUndefined(); // only the newest size counts
  });

  it('names nothing past a size-0 entry and nothing outside entries', () => {
    expect(t.lookup(0x3ef8a400n)?.name).toBe('Zero');
    expect(t.lookup(0x3ef8a401n)).toBeUndefined();
    expect(t.lookup(0x1000n)).toBeUndefined();
    expect(parsePerfMap('').lookup(1n)).toBeUndefined();
  });

  it('bounds lines, characters and name length', () => {
    const big = Array.from({ length: 5000 }, (_, i) => `${(0x10000 + i * 0x100).toString(16)} 100 fn${i}`).join('\n') + '\n';
    const t0 = performance.now();
    expect(parsePerfMap(big).entryCount).toBe(5000);
    expect(performance.now() - t0).toBeLessThan(500);
    const few = parsePerfMap(big, { maxLines: 10 });
    expect(few.truncated).toBe(true);
    expect(few.entryCount).toBe(10);
    const cut = parsePerfMap(big, { maxChars: 30 });
    expect(cut.truncated).toBe(true);
    expect(cut.entryCount).toBe(2);
    expect(parsePerfMap(`1000 10 ${'x'.repeat(5000)}\n`, { maxNameLength: 64 }).lookup(0x1000n)?.name).toHaveLength(64);
  });

  it('keeps its names, not the text they came from (a kept 40-byte name must not pin a 64 MiB map)', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // Only a few lines parse: every other line is malformed padding, so the text is much larger than the names.
    const parseOnly = (): PerfMapTable => {
      const pad = 'x'.repeat(4000);
      const lines: string[] = [];
      for (let i = 0; i < 8000; i++) lines.push(i % 100 === 0 ? `${(0x10000 + i * 0x100).toString(16)} 100 JS:*osprey_kept_name_${i}` : pad);
      return parsePerfMap(lines.join('\n') + '\n');
    };
    gc();
    const before = process.memoryUsage().heapUsed;
    const table = parseOnly();
    gc();
    const kept = process.memoryUsage().heapUsed - before;
    expect(table.entryCount).toBe(80);
    expect(table.lookup(0x10000n)?.name).toBe('JS:*osprey_kept_name_0');
    // The text was 32 MB; what is kept is the names and the index.
    expect(kept).toBeLessThan(4 << 20);
  });
});
