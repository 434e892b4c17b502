// Bounded reads. The symbolizer reads files that other processes write and size: every read has a cap, and a
// short read (end of file, a file truncated meanwhile) is a result, not an error.

import * as fs from 'node:fs';
import type { ByteSource } from './elf.js';

/** Up to `length` bytes at `offset`; fewer at the end of the file. */
export function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, offset + got);
    if (n <= 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** An open file as parseElf reads it: only the parts it asks for. */
export function fdSource(fd: number, size: number): ByteSource {
  return { size, read: (offset, length) => readAt(fd, offset, Math.max(0, Math.min(length, size - offset))) };
}

export type ReadResult = { ok: true; text: string; truncated: boolean } | { ok: false; code: string };

/** Reads at most `max` bytes of a file (procfs files report size 0, so read until EOF). */
export function readBounded(file: string, max: number): ReadResult {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < max) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, max - total));
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    return { ok: true, text: Buffer.concat(chunks, total).toString('utf8'), truncated: total >= max };
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** FNV-1a over a text's characters, 31 bits: tells whether a process's maps changed since the last window. */
export function textHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h & 0x7fffffff) | 1;
}
