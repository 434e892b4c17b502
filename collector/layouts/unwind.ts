// Mirrors programs/unwind.h: struct unwind_mapping, struct unwind_process, struct user_stack and enum
// unwind_end (little-endian). The rows (struct unwind_row) are mirrored by collector/unwind/rows.ts.
import { ErrorCodes, HotpathError } from '../errors.js';
import { MAX_STACK_DEPTH, requireBytes } from './common.js';

export const UNWIND_HEADER = 'programs/unwind.h';
export const UNWIND_MAX_MAPPINGS = 250;
/** struct unwind_mapping: u64 start, u64 end, u64 bias, u32 first_row, u32 rows. */
export const UNWIND_MAPPING_SIZE = 32;
/** struct unwind_process: u32 count, u32 pad, then UNWIND_MAX_MAPPINGS mappings. */
export const UNWIND_PROCESS_SIZE = 8 + UNWIND_MAPPING_SIZE * UNWIND_MAX_MAPPINGS;
/** struct user_stack: u64 len, then MAX_STACK_DEPTH u64 addresses. */
export const USER_STACK_SIZE = 8 + 8 * MAX_STACK_DEPTH;

export interface UnwindMapping {
  start: bigint;
  end: bigint;
  /** runtime pc - bias = file-relative pc (mod 2^64). */
  bias: bigint;
  firstRow: number;
  /** 0: no table (frame-pointer steps). */
  rows: number;
}

/** Encodes struct unwind_process; the mappings must be sorted by start and not overlap (checked). */
export function encodeUnwindProcess(mappings: readonly UnwindMapping[]): Buffer {
  const buf = Buffer.alloc(UNWIND_PROCESS_SIZE);
  const n = Math.min(mappings.length, UNWIND_MAX_MAPPINGS);
  buf.writeUInt32LE(n, 0);
  for (let i = 0; i < n; i++) {
    const m = mappings[i];
    if (i > 0 && m.start < mappings[i - 1].end) throw new HotpathError(ErrorCodes.LAYOUT, 'encode unwind process: mappings must be sorted and disjoint');
    const off = 8 + i * UNWIND_MAPPING_SIZE;
    buf.writeBigUInt64LE(m.start, off);
    buf.writeBigUInt64LE(m.end, off + 8);
    buf.writeBigUInt64LE(BigInt.asUintN(64, m.bias), off + 16);
    buf.writeUInt32LE(m.firstRow, off + 24);
    buf.writeUInt32LE(m.rows, off + 28);
  }
  return buf;
}

/** Decodes struct user_stack: its first `len` addresses, leaf first. */
export function decodeUserStack(buf: Buffer): bigint[] {
  requireBytes(buf, USER_STACK_SIZE, 'user stack');
  const len = Math.min(Number(buf.readBigUInt64LE(0)), MAX_STACK_DEPTH);
  const out = new Array<bigint>(len);
  for (let i = 0; i < len; i++) out[i] = buf.readBigUInt64LE(8 + 8 * i);
  return out;
}

/** Words of one chunk the drained user stacks are copied into (256 KiB: a window's stacks share a few). */
const STACK_CHUNK_WORDS = 32_768;
let stackChunk = new BigUint64Array(0);
let stackChunkUsed = 0;
const NO_ADDRESSES = new BigUint64Array(0);

/**
 * struct user_stack as a view of its addresses, copied out of `buf` (a drain's reused buffer): one memcpy into a
 * shared chunk and one small view object per stack, where decodeUserStack makes a heap number per frame (130 MB
 * of garbage in 30 s at --hz 990, most of it for stacks the symbolizer already had). The chunk lives as long
 * as any of its views. Addresses are read in host order, as the kernel wrote them.
 */
export function copyUserStack(buf: Buffer): BigUint64Array {
  requireBytes(buf, USER_STACK_SIZE, 'user stack');
  const len = Math.min(Number(buf.readBigUInt64LE(0)), MAX_STACK_DEPTH);
  if (len === 0) return NO_ADDRESSES;
  if (stackChunkUsed + len > stackChunk.length) {
    stackChunk = new BigUint64Array(Math.max(STACK_CHUNK_WORDS, len));
    stackChunkUsed = 0;
  }
  const out = stackChunk.subarray(stackChunkUsed, stackChunkUsed + len);
  stackChunkUsed += len;
  if (((buf.byteOffset + 8) & 7) === 0) out.set(new BigUint64Array(buf.buffer, buf.byteOffset + 8, len));
  else for (let i = 0; i < len; i++) out[i] = buf.readBigUInt64LE(8 + 8 * i);
  return out;
}

/** enum unwind_end, in order: the label values of the unwinder's self-metrics. */
export const UNWIND_COUNTERS = [
  'end_outermost',
  'end_zero_pc',
  'end_no_frame_pointer',
  'end_read_failed',
  'end_depth',
  'end_no_registers',
  'step_table',
  'step_frame_pointer',
  'sample_without_tables',
] as const;
export type UnwindCounter = (typeof UNWIND_COUNTERS)[number];
export const UNWIND_COUNTS_SIZE = 8 * UNWIND_COUNTERS.length;

/** Sums the per-CPU struct unwind_counts value (UNWIND_COUNTS_SIZE bytes per possible CPU) by counter. */
export function sumUnwindCounts(value: Buffer): Record<UnwindCounter, number> {
  const out = Object.fromEntries(UNWIND_COUNTERS.map((n) => [n, 0])) as Record<UnwindCounter, number>;
  for (let off = 0; off + UNWIND_COUNTS_SIZE <= value.length; off += UNWIND_COUNTS_SIZE) {
    UNWIND_COUNTERS.forEach((n, i) => (out[n] += Number(value.readBigUInt64LE(off + 8 * i))));
  }
  return out;
}
