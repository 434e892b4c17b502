// Mirrors programs/offcpu.h: struct offcpu_key, struct offcpu_value, struct offcpu_config, enum offcpu_state
// and enum offcpu_lost_reason (little-endian). The shared limits are in ./common.ts (programs/common.h).
import { usageError } from '../errors.js';
import { decodeComm, PID_FILTER_SIZE, requireBytes, TASK_COMM_LEN, writePidFilter } from './common.js';

export const OFFCPU_HEADER = 'programs/offcpu.h';
/** struct offcpu_key: u32 pid, u32 tid, s32 kernel_stack_id, u16 stack_map, u16 state, u64 user_stack, char comm[16]. */
export const OFFCPU_KEY_SIZE = 24 + TASK_COMM_LEN;
/** struct offcpu_value: u64 total_ns, u64 count, u64 runnable_ns, u64 oncpu_ns. */
export const OFFCPU_VALUE_SIZE = 32;
export const OFFCPU_STACK_MAPS = 3;
/** Frames kept of a kernel stack taken at switch-out (the value size of the stacks_N maps / 8). */
export const OFFCPU_KERNEL_STACK_DEPTH = 64;
/** OFFCPU_LAST_RUNTIME_ENTRIES: the last_runtime map shared with the CPU program in wall mode. */
export const OFFCPU_LAST_RUNTIME_ENTRIES = 16384;
/** struct offcpu_config: u64 min_block_ns, struct pid_filter, u32 unwind_tables, u32 wall (padded to 8 bytes). */
export const OFFCPU_CONFIG_SIZE = 8 + PID_FILTER_SIZE + 4 + 4 + 4;

/** enum offcpu_state: what a thread was doing when it left the CPU (taken in wall mode only). */
export const OFFCPU_STATE = { none: 0, runnable: 1, io: 2, sleeping: 3 } as const;
export type OffcpuState = keyof typeof OFFCPU_STATE;
/** OFFCPU_STATE_BELOW_MIN_BLOCK: the block was shorter than min_block_ns (counted for the wall profile only). */
export const OFFCPU_STATE_BELOW_MIN_BLOCK = 0x100;
const STATE_NAMES: readonly OffcpuState[] = ['none', 'runnable', 'io', 'sleeping'];

export interface OffcpuKey {
  /** The process (tgid). */
  pid: number;
  tid: number;
  /** Id in stacks_{stackMap}; < 0: none. */
  kernelStackId: number;
  /** Which stacks_N map the kernel id indexes. */
  stackMap: number;
  /** The thread's state when it left the CPU ('none' outside wall mode). */
  state: OffcpuState;
  /** Shorter than min_block_ns: for the wall profile only. */
  belowMinBlock: boolean;
  /** Key (a 64-bit hash of the frames) in the window's user stack map; 0n: none. */
  userStack: bigint;
  comm: string;
}

export interface OffcpuValue {
  totalNs: bigint;
  count: bigint;
  /** Of totalNs, the time on a run queue (wall mode; else 0). */
  runnableNs: bigint;
  /** Wall mode: the thread's CPU time before these blocks that no CPU sample carried (else 0). */
  oncpuNs: bigint;
}

/** Decodes struct offcpu_key; a shorter buffer is HP_ERR_LAYOUT. A state the header does not define reads as 'none'. */
export function decodeOffcpuKey(buf: Buffer): OffcpuKey {
  requireBytes(buf, OFFCPU_KEY_SIZE, 'offcpu key');
  const rawState = buf.readUInt16LE(14);
  const state = STATE_NAMES[rawState & 0xff] ?? 'none';
  return {
    pid: buf.readUInt32LE(0),
    tid: buf.readUInt32LE(4),
    kernelStackId: buf.readInt32LE(8),
    stackMap: buf.readUInt16LE(12),
    state,
    belowMinBlock: (rawState & OFFCPU_STATE_BELOW_MIN_BLOCK) !== 0,
    userStack: buf.readBigUInt64LE(16),
    comm: decodeComm(buf.subarray(24, OFFCPU_KEY_SIZE)),
  };
}

/** Decodes struct offcpu_value; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeOffcpuValue(buf: Buffer): OffcpuValue {
  requireBytes(buf, OFFCPU_VALUE_SIZE, 'offcpu value');
  return { totalNs: buf.readBigUInt64LE(0), count: buf.readBigUInt64LE(8), runnableNs: buf.readBigUInt64LE(16), oncpuNs: buf.readBigUInt64LE(24) };
}

/** Encodes struct offcpu_config; more than MAX_FILTER_PIDS pids or a minimum outside u64 is HP_ERR_USAGE. */
export function encodeOffcpuConfig(opts: { pids: readonly number[]; minBlockNs: bigint; unwindTables?: boolean; wall?: boolean }): Buffer {
  if (opts.minBlockNs < 0n || opts.minBlockNs >= 1n << 64n) throw usageError(`minimum block time out of range: ${opts.minBlockNs} ns`);
  const buf = Buffer.alloc(OFFCPU_CONFIG_SIZE);
  buf.writeBigUInt64LE(opts.minBlockNs, 0);
  writePidFilter(buf, 8, opts.pids);
  buf.writeUInt32LE(opts.unwindTables ? 1 : 0, 8 + PID_FILTER_SIZE);
  buf.writeUInt32LE(opts.wall ? 1 : 0, 8 + PID_FILTER_SIZE + 4);
  return buf;
}

/** enum offcpu_lost_reason, by index: the `reason` label values. */
export const OFFCPU_LOST_REASONS = [
  'offcpu_kernel_stack',
  'offcpu_user_stack',
  'offcpu_counts_map_full',
  'offcpu_stack_expired',
  'offcpu_user_stack_outside_syscall',
  'offcpu_start_map_full',
  'offcpu_task_storage',
] as const;
export type OffcpuLostReason = (typeof OFFCPU_LOST_REASONS)[number];
