import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findMapping, parseProcMaps } from './proc-maps.js';

const MAPS = `55d4c3a00000-55d4c3a01000 r--p 00000000 fd:01 1835023                    /usr/bin/app
55d4c3a01000-55d4c3a02000 r-xp 00001000 fd:01 1835023                    /usr/bin/app
55d4c4b1e000-55d4c4b3f000 rw-p 00000000 00:00 0                          [heap]
7f1000000000-7f1000010000 rwxp 00000000 00:00 0 
7f1000010000-7f1000020000 r-xp 00002000 00:1f 42                         /tmp/my lib (v2).so (deleted)
7f1000020000-7f1000030000 r-xs 00000000 00:01 7                          /memfd:jit-code (deleted)
7f1000030000-7f1000040000 rw-p 00000000 00:00 0                          [anon:v8 code]
7f1000040000-7f1000050000 rw-s 00000000 00:0e 9                          anon_inode:[perf_event]
7ffd7e8f0000-7ffd7e911000 rw-p 00000000 00:00 0                          [stack]
7ffd7e9d0000-7ffd7e9d4000 r--p 00000000 00:00 0                          [vvar]
7ffd7e9d4000-7ffd7e9d6000 r-xp 00000000 00:00 0                          [vdso]
this is not a maps line
7f2000000000-7f1000000000 r--p 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`;

describe('parseProcMaps', () => {
  const r = parseProcMaps(MAPS);
  const byStart = (s: bigint) => r.mappings.find((m) => m.start === s)!;

  it('parses fields and classifies pseudo-paths', () => {
    expect(r.malformedLines).toBe(2);
    expect(r.mappings).toHaveLength(12);
    expect(r.mappings[1]).toEqual({
      start: 0x55d4c3a01000n, end: 0x55d4c3a02000n, perms: 'r-xp', readable: true, writable: false, executable: true,
      shared: false, offset: 0x1000n, devMajor: 0xfd, devMinor: 1, inode: 1835023n, path: '/usr/bin/app', deleted: false, kind: 'file',
    });
    expect(r.mappings.map((m) => m.kind)).toEqual(['file', 'file', 'heap', 'anon', 'file', 'memfd', 'anon-named', 'anon-named', 'stack', 'vvar', 'vdso', 'vsyscall']);
    expect(byStart(0x7f1000000000n).path).toBe('');
  });

  it('keeps spaces in paths and strips the deleted marker', () => {
    const m = byStart(0x7f1000010000n);
    expect(m.path).toBe('/tmp/my lib (v2).so');
    expect(m.deleted).toBe(true);
    expect(m.devMinor).toBe(0x1f);
    expect(byStart(0x7f1000020000n)).toMatchObject({ path: '/memfd:jit-code', deleted: true, shared: true });
  });

  it('finds the mapping of an address', () => {
    expect(findMapping(r.mappings, 0x55d4c3a01234n)?.perms).toBe('r-xp');
    expect(findMapping(r.mappings, 0x55d4c3a02000n)).toBeUndefined(); // end is exclusive
    expect(findMapping(r.mappings, 0x7ffd7e9d5000n)?.kind).toBe('vdso');
    expect(findMapping(r.mappings, 0xffffffffff600400n)?.kind).toBe('vsyscall');
    expect(findMapping(r.mappings, 1n)).toBeUndefined();
    expect(findMapping([], 1n)).toBeUndefined();
  });

  it('bounds the number of lines', () => {
    const p = parseProcMaps(MAPS, { maxLines: 3 });
    expect(p.truncated).toBe(true);
    expect(p.mappings).toHaveLength(3);
  });

  it('parses this process', () => {
    const self = parseProcMaps(fs.readFileSync('/proc/self/maps', 'utf8'));
    expect(self.malformedLines).toBe(0);
    expect(self.mappings.some((m) => m.path === fs.realpathSync(process.execPath) && m.executable)).toBe(true);
    expect(self.mappings.some((m) => m.kind === 'vdso')).toBe(true);
  });
});
