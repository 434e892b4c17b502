// Mirrors programs/offcpu.h: struct offcpu_key, struct offcpu_value, struct offcpu_config and enum
// offcpu_lost_reason (little-endian). The shared limits are in ./common.ts (programs/common.h).
import { usageError } from '../errors.js';
import { decodeComm, decodeThreadStacks, PID_FILTER_SIZE, requireBytes, TASK_COMM_LEN, THREAD_STACKS_SIZE, type ThreadStacks, writePidFilter } from './common.js';

export const OFFCPU_HEADER = 'programs/offcpu.h';
/** struct offcpu_key: struct thread_stacks, u32 stack_map, u32 pad, char comm[TASK_COMM_LEN]. */
export const OFFCPU_KEY_SIZE = THREAD_STACKS_SIZE + 8 + TASK_COMM_LEN;
export const OFFCPU_VALUE_SIZE = 16;
export const OFFCPU_STACK_MAPS = 3;
/** struct offcpu_config: u64 min_block_ns, struct pid_filter, u32 pad. */
export const OFFCPU_CONFIG_SIZE = 8 + PID_FILTER_SIZE + 4;

export interface OffcpuKey extends ThreadStacks {
  /** Which stacks_N map the ids index. */
  stackMap: number;
  comm: string;
}

export interface OffcpuValue {
  totalNs: bigint;
  count: bigint;
}

/** Decodes struct offcpu_key; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeOffcpuKey(buf: Buffer): OffcpuKey {
  requireBytes(buf, OFFCPU_KEY_SIZE, 'offcpu key');
  const stackMap = buf.readUInt32LE(THREAD_STACKS_SIZE);
  return { ...decodeThreadStacks(buf), stackMap, comm: decodeComm(buf.subarray(THREAD_STACKS_SIZE + 8, OFFCPU_KEY_SIZE)) };
}

/** Decodes struct offcpu_value; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeOffcpuValue(buf: Buffer): OffcpuValue {
  requireBytes(buf, OFFCPU_VALUE_SIZE, 'offcpu value');
  return { totalNs: buf.readBigUInt64LE(0), count: buf.readBigUInt64LE(8) };
}

/** Encodes struct offcpu_config; more than MAX_FILTER_PIDS pids or a minimum outside u64 is HP_ERR_USAGE. */
export function encodeOffcpuConfig(opts: { pids: readonly number[]; minBlockNs: bigint }): Buffer {
  if (opts.minBlockNs < 0n || opts.minBlockNs >= 1n << 64n) throw usageError(`minimum block time out of range: ${opts.minBlockNs} ns`);
  const buf = Buffer.alloc(OFFCPU_CONFIG_SIZE);
  buf.writeBigUInt64LE(opts.minBlockNs, 0);
  writePidFilter(buf, 8, opts.pids);
  return buf;
}

/** enum offcpu_lost_reason, by index: the `reason` label values. */
export const OFFCPU_LOST_REASONS = ['offcpu_kernel_stack', 'offcpu_user_stack', 'offcpu_counts_map_full', 'offcpu_stack_expired'] as const;
export type OffcpuLostReason = (typeof OFFCPU_LOST_REASONS)[number];
