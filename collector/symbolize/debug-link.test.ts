import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIdDebugPath, crc32, crc32Portable, debugLinkCandidates, parseDebugLink } from './debug-link.js';
import { bufferSource, parseElf } from './elf.js';
import { LIB_SOURCE, gcc, makeTempDir } from './test-support/native.js';

/** A `.gnu_debuglink` section as binutils writes it: name, NUL, zero padding to 4 bytes, CRC32 little-endian. */
function linkSection(name: string, crc: number, extraPadding = 0): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const crcOff = (nameBytes.length + 3) & ~3;
  const out = Buffer.alloc(crcOff + 4 + extraPadding);
  nameBytes.copy(out);
  out.writeUInt32LE(crc, crcOff);
  return out;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('parseDebugLink', () => {
  it('reads the name and the CRC after the 4-byte padding, for every name length', () => {
    for (const name of ['a.d', 'ab.d', 'abc.d', 'abcd.d', 'libc.so.6.debug', 'ac61ec5a8eb1396f9fbd350e3169a558528a40.debug']) {
      expect(parseDebugLink(linkSection(name, 0xf7a8ab1a)), name).toEqual({ file: name, crc: 0xf7a8ab1a });
    }
    expect(parseDebugLink(linkSection('x.debug', 1, 4))).toEqual({ file: 'x.debug', crc: 1 });
  });

  it('refuses truncated, unterminated, empty and directory-carrying names', () => {
    const ok = linkSection('libfoo.so.debug', 0x12345678);
    for (let n = 0; n < ok.length; n++) expect(parseDebugLink(ok.subarray(0, n)), `first ${n} bytes`).toBeUndefined();
    expect(parseDebugLink(Buffer.from('no-terminator.debug'))).toBeUndefined();
    expect(parseDebugLink(linkSection('', 5))).toBeUndefined();
    expect(parseDebugLink(linkSection('../../etc/x.debug', 5))).toBeUndefined();
    expect(parseDebugLink(linkSection('..', 5))).toBeUndefined();
    expect(parseDebugLink(linkSection('x'.repeat(300), 5))).toBeUndefined();
    expect(parseDebugLink(Buffer.concat([Buffer.from([0xff, 0xfe, 0]), Buffer.alloc(5)]))).toBeUndefined();
    expect(parseDebugLink(Buffer.alloc(0))).toBeUndefined();
  });

  it('agrees with the section and the CRC objcopy --add-gnu-debuglink writes', () => {
    const dir = makeTempDir('hotpath-debuglink-');
    dirs.push(dir);
    const lib = gcc(dir, 'libosprey.so', LIB_SOURCE, ['-shared', '-fPIC']);
    const debug = path.join(dir, 'libosprey.so.debug');
    execFileSync('objcopy', ['--only-keep-debug', lib, debug]);
    const linked = path.join(dir, 'libosprey-linked.so');
    execFileSync('objcopy', ['--strip-all', `--add-gnu-debuglink=${debug}`, lib, linked]);
    const dumped = path.join(dir, 'section');
    execFileSync('objcopy', ['--dump-section', `.gnu_debuglink=${dumped}`, linked]);
    const link = parseDebugLink(fs.readFileSync(dumped));
    expect(link).toEqual({ file: 'libosprey.so.debug', crc: crc32(fs.readFileSync(debug)) });
    const elf = parseElf(bufferSource(fs.readFileSync(linked)));
    expect(elf.ok && elf.elf.debugLink).toEqual(link);
    expect(elf.ok && elf.elf.hasSymtab).toBe(false);
    const plain = parseElf(bufferSource(fs.readFileSync(lib)));
    expect(plain.ok && plain.elf.debugLink).toBeUndefined();
  });
});

describe('crc32', () => {
  it('is the standard CRC32 (zlib, gdb): check value, empty input, chunked input', () => {
    const check = Buffer.from('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Portable(check)).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32Portable(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    const data = Buffer.alloc(100_003);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const whole = crc32Portable(data);
    let chunked = 0;
    for (let off = 0; off < data.length; off += 4096) chunked = crc32(data.subarray(off, off + 4096), chunked);
    expect(chunked).toBe(whole);
    let portableChunked = 0;
    for (let off = 0; off < data.length; off += 777) portableChunked = crc32Portable(data.subarray(off, off + 777), portableChunked);
    expect(portableChunked).toBe(whole);
    const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    if (native) expect(native(data) >>> 0).toBe(whole);
  });
});

describe('debug file paths', () => {
  it('puts a build-id under .build-id/<first two hex digits>/<rest>.debug', () => {
    expect(buildIdDebugPath('93ac61ec5a8eb1396f9fbd350e3169a558528a40')).toBe(
      '/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug',
    );
    expect(buildIdDebugPath('')).toBeUndefined();
    expect(buildIdDebugPath('../../etc')).toBeUndefined();
  });

  it('looks for a debuglink in the file directory, its .debug/ and under /usr/lib/debug', () => {
    expect(debugLinkCandidates('/usr/lib/x86_64-linux-gnu/libfoo.so.1', { file: 'libfoo.so.1.debug', crc: 0 })).toEqual([
      '/usr/lib/x86_64-linux-gnu/libfoo.so.1.debug',
      '/usr/lib/x86_64-linux-gnu/.debug/libfoo.so.1.debug',
      '/usr/lib/debug/usr/lib/x86_64-linux-gnu/libfoo.so.1.debug',
    ]);
    expect(debugLinkCandidates('/app', { file: 'app.debug', crc: 0 })).toEqual(['/app.debug', '/.debug/app.debug', '/usr/lib/debug/app.debug']);
    expect(debugLinkCandidates('memfd:jit', { file: 'x.debug', crc: 0 })).toEqual([]);
  });
});
