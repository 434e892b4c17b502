// Mirrors programs/common.h: the limits every program shares (TASK_COMM_LEN, MAX_STACK_DEPTH,
// MAX_FILTER_PIDS), struct thread_stacks and struct pid_filter (little-endian); with the decoders of what
// those limits shape (comm, stack trace map values) and of per-CPU u64 values.
import { ErrorCodes, HotpathError, usageError } from '../errors.js';

export const COMMON_HEADER = 'programs/common.h';
export const TASK_COMM_LEN = 16;
export const MAX_STACK_DEPTH = 127;
export const MAX_FILTER_PIDS = 64;
/** Value size of every stack trace map: MAX_STACK_DEPTH u64 addresses. */
export const STACK_TRACE_SIZE = 8 * MAX_STACK_DEPTH;
/** struct thread_stacks: u32 pid, u32 tid, s32 kernel_stack_id, s32 user_stack_id. */
export const THREAD_STACKS_SIZE = 16;
/** struct pid_filter: u32 count + MAX_FILTER_PIDS u32 tgids. */
export const PID_FILTER_SIZE = 4 + 4 * MAX_FILTER_PIDS;

/** Throws HP_ERR_LAYOUT when `buf` is shorter than the struct it should hold. */
export function requireBytes(buf: Buffer, size: number, what: string): void {
  if (buf.length < size) throw new HotpathError(ErrorCodes.LAYOUT, `decode ${what}: ${buf.length} bytes, need ${size}`);
}

/** The head of every stack aggregation key: a thread and the ids of its stacks in a stack trace map. */
export interface ThreadStacks {
  /** The process (tgid). */
  pid: number;
  tid: number;
  /** < 0: no kernel stack (none to walk, such as a sample in user mode, or lost: see the lost counters). */
  kernelStackId: number;
  /** < 0: no user stack (a kernel thread, or lost). */
  userStackId: number;
}

/** Decodes struct thread_stacks at the start of a key; the caller checked the key's size. */
export function decodeThreadStacks(key: Buffer): ThreadStacks {
  return { pid: key.readUInt32LE(0), tid: key.readUInt32LE(4), kernelStackId: key.readInt32LE(8), userStackId: key.readInt32LE(12) };
}

/** The comm is NUL-terminated within TASK_COMM_LEN bytes; non-UTF-8 bytes are replaced, never trusted. */
export function decodeComm(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

/** Stack trace map values: up to MAX_STACK_DEPTH u64 addresses, the unused tail zeroed. Leaf first. */
export function decodeStack(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let off = 0; off + 8 <= buf.length; off += 8) {
    const addr = buf.readBigUInt64LE(off);
    if (addr === 0n) break;
    out.push(addr);
  }
  return out;
}

/** Sums a per-CPU u64 value (one 8-byte slot per possible CPU). */
export function sumPerCpuU64(buf: Buffer): bigint {
  let total = 0n;
  for (let off = 0; off + 8 <= buf.length; off += 8) total += buf.readBigUInt64LE(off);
  return total;
}

/**
 * Writes struct pid_filter at `offset` of a settings buffer. More than MAX_FILTER_PIDS processes is a usage
 * error (HP_ERR_USAGE: the CLI exits with status 2): they come from --pid.
 */
export function writePidFilter(buf: Buffer, offset: number, pids: readonly number[]): void {
  if (pids.length > MAX_FILTER_PIDS) throw usageError(`at most ${MAX_FILTER_PIDS} processes can be filtered (--pid), got ${pids.length}`);
  const bad = pids.find((pid) => !Number.isInteger(pid) || pid < 0 || pid > 0xffff_ffff);
  if (bad !== undefined) throw usageError(`invalid process id to filter: ${bad}`);
  buf.writeUInt32LE(pids.length, offset);
  pids.forEach((pid, i) => buf.writeUInt32LE(pid, offset + 4 + 4 * i));
}
