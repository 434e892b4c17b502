// Mirrors struct offcpu_key, struct offcpu_value, struct offcpu_config and enum offcpu_lost_reason of
// programs/offcpu.h.
import { decodeComm } from './cpu-profile.js';

export const OFFCPU_HEADER = 'programs/offcpu.h';
export const OFFCPU_KEY_SIZE = 40;
export const OFFCPU_VALUE_SIZE = 16;
export const OFFCPU_STACK_MAPS = 3;
export const OFFCPU_MAX_FILTER_PIDS = 64;
export const OFFCPU_CONFIG_SIZE = 16 + 4 * OFFCPU_MAX_FILTER_PIDS;

export interface OffcpuKey {
  pid: number;
  tid: number;
  /** < 0: no kernel stack (lost, see the lost counters). */
  kernelStackId: number;
  /** < 0: no user stack (kernel thread, or lost). */
  userStackId: number;
  /** Which stacks_N map the ids index. */
  stackMap: number;
  comm: string;
}

export interface OffcpuValue {
  totalNs: bigint;
  count: bigint;
}

export function decodeOffcpuKey(buf: Buffer): OffcpuKey {
  if (buf.length < OFFCPU_KEY_SIZE) throw new RangeError(`offcpu key: ${buf.length} bytes, need ${OFFCPU_KEY_SIZE}`);
  return {
    pid: buf.readUInt32LE(0),
    tid: buf.readUInt32LE(4),
    kernelStackId: buf.readInt32LE(8),
    userStackId: buf.readInt32LE(12),
    stackMap: buf.readUInt32LE(16),
    comm: decodeComm(buf.subarray(24, 40)),
  };
}

export function decodeOffcpuValue(buf: Buffer): OffcpuValue {
  if (buf.length < OFFCPU_VALUE_SIZE) throw new RangeError(`offcpu value: ${buf.length} bytes, need ${OFFCPU_VALUE_SIZE}`);
  return { totalNs: buf.readBigUInt64LE(0), count: buf.readBigUInt64LE(8) };
}

export function encodeOffcpuConfig(opts: { pids: number[]; minBlockNs: bigint }): Buffer {
  if (opts.pids.length > OFFCPU_MAX_FILTER_PIDS) throw new RangeError(`at most ${OFFCPU_MAX_FILTER_PIDS} pids can be filtered`);
  if (opts.minBlockNs < 0n || opts.minBlockNs >= 1n << 64n) throw new RangeError(`minimum block time out of range: ${opts.minBlockNs}`);
  const buf = Buffer.alloc(OFFCPU_CONFIG_SIZE);
  buf.writeBigUInt64LE(opts.minBlockNs, 0);
  buf.writeUInt32LE(opts.pids.length, 8);
  opts.pids.forEach((pid, i) => buf.writeUInt32LE(pid, 16 + 4 * i));
  return buf;
}

/** enum offcpu_lost_reason, by index: the `reason` label values. */
export const OFFCPU_LOST_REASONS = ['offcpu_kernel_stack', 'offcpu_user_stack', 'offcpu_counts_map_full', 'offcpu_stack_expired'] as const;
export type OffcpuLostReason = (typeof OFFCPU_LOST_REASONS)[number];
