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

/**
 * The buffers behind `readTransient`, shared by every source: parses are synchronous, so one runs at a time (each
 * worker thread has its own module). At most a symbol chunk (about 1 MiB) and a string-table window each.
 */
const transientSlots: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];

/** An open file as parseElf reads it: only the parts it asks for. */
export function fdSource(fd: number, size: number): ByteSource {
  const slots = transientSlots;
  const clamp = (offset: number, length: number) => Math.max(0, Math.min(length, size - offset));
  return {
    size,
    read: (offset, length) => readAt(fd, offset, clamp(offset, length)),
    readTransient(slot, offset, length) {
      const want = clamp(offset, length);
      if (slots[slot].length < want) slots[slot] = Buffer.allocUnsafeSlow(want);
      const buf = slots[slot];
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
  };
}

export type ReadResult = { ok: true; text: string; truncated: boolean } | { ok: false; code: string };

/**
 * One scratch buffer for every bounded read (they are synchronous, so never two at once). A fresh 1 MiB buffer
 * per read made each window leave hundreds of MiB of garbage ArrayBuffers behind on a busy machine (two maps
 * reads per process), which V8 collects late: resident memory passed the budget. It grows for a larger file and
 * goes back to its resting size afterwards.
 */
const SCRATCH_REST_BYTES = 64 * 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH_REST_BYTES);

/** Reads at most `max` bytes of a file (procfs files report size 0, so read until EOF). */
export function readBounded(file: string, max: number): ReadResult {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    let total = 0;
    while (total < max) {
      if (total === scratch.length) {
        const next = Buffer.allocUnsafeSlow(Math.min(max, scratch.length * 2));
        scratch.copy(next, 0, 0, total);
        scratch = next;
      }
      const n = fs.readSync(fd, scratch, total, Math.min(scratch.length, max) - total, null);
      if (n <= 0) break;
      total += n;
    }
    return { ok: true, text: scratch.toString('utf8', 0, total), truncated: total >= max };
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (scratch.length > 16 * SCRATCH_REST_BYTES) scratch = Buffer.allocUnsafeSlow(SCRATCH_REST_BYTES);
  }
}

/** FNV-1a over a text's characters, 31 bits: tells whether a process's maps changed since the last window. */
export function textHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h & 0x7fffffff) | 1;
}
