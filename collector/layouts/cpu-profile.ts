// Decodes `struct cpu_sample_key` of programs/cpu-profile.h (32 bytes, little-endian).

export const CPU_SAMPLE_KEY_SIZE = 32;
export const CPU_SAMPLE_VALUE_SIZE = 8;
export const CPU_PROFILE_HEADER = 'programs/cpu-profile.h';

export interface CpuSampleKey {
  pid: number;
  tid: number;
  /** < 0: no kernel stack (user-mode sample, or lost; see the lost counters). */
  kernelStackId: number;
  /** < 0: no user stack (kernel thread, or lost). */
  userStackId: number;
  comm: string;
}

/** The comm is NUL-terminated within 16 bytes; non-UTF-8 bytes are replaced, never trusted. */
export function decodeComm(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

export function decodeCpuSampleKey(buf: Buffer): CpuSampleKey {
  if (buf.length < CPU_SAMPLE_KEY_SIZE) throw new RangeError(`cpu sample key: ${buf.length} bytes, need ${CPU_SAMPLE_KEY_SIZE}`);
  return {
    pid: buf.readUInt32LE(0),
    tid: buf.readUInt32LE(4),
    kernelStackId: buf.readInt32LE(8),
    userStackId: buf.readInt32LE(12),
    comm: decodeComm(buf.subarray(16, 32)),
  };
}

/** Stack trace map values: up to 127 u64 addresses, the unused tail zeroed. Leaf first. */
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

/** struct cpu_profile_config of programs/cpu-profile.h. */
export const MAX_FILTER_PIDS = 64;
export const CPU_PROFILE_CONFIG_SIZE = 8 + 4 * MAX_FILTER_PIDS;

export function encodeCpuProfileConfig(opts: { pids: number[]; includeIdle: boolean }): Buffer {
  if (opts.pids.length > MAX_FILTER_PIDS) throw new RangeError(`at most ${MAX_FILTER_PIDS} pids can be filtered`);
  const buf = Buffer.alloc(CPU_PROFILE_CONFIG_SIZE);
  buf.writeUInt32LE(opts.pids.length, 0);
  buf.writeUInt32LE(opts.includeIdle ? 1 : 0, 4);
  opts.pids.forEach((pid, i) => buf.writeUInt32LE(pid, 8 + 4 * i));
  return buf;
}

/** Indexes of the lost counters (enum cpu_lost_reason) and their metric label values. */
export const CPU_LOST_REASONS = ['kernel_stack_collision', 'user_stack_collision', 'user_stack_missing', 'counts_map_full'] as const;
export type CpuLostReason = (typeof CPU_LOST_REASONS)[number];
