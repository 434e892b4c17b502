// Mirrors programs/cpu-profile.h: struct cpu_sample_key, struct cpu_sample_value, enum cpu_lost_reason and struct cpu_profile_config
// (little-endian). The shared limits and decoders are in ./common.ts (programs/common.h).
import { decodeComm, PID_FILTER_SIZE, requireBytes, TASK_COMM_LEN, writePidFilter } from './common.js';

export const CPU_PROFILE_HEADER = 'programs/cpu-profile.h';
/** struct cpu_sample_key: u32 pid, u32 tid, u64 kernel_stack, u64 user_stack, char comm[16]. */
export const CPU_SAMPLE_KEY_SIZE = 24 + TASK_COMM_LEN;
/** struct cpu_sample_value: u64 count, u64 cpu_ns. */
export const CPU_SAMPLE_VALUE_SIZE = 16;

export interface CpuSampleValue {
  count: bigint;
  /** The CPU time the samples stand for: measured with the wall profile (see programs/cpu-profile.h), else count x period. */
  cpuNs: bigint;
}

/** Decodes struct cpu_sample_value; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeCpuSampleValue(buf: Buffer): CpuSampleValue {
  requireBytes(buf, CPU_SAMPLE_VALUE_SIZE, 'cpu sample value');
  return { count: buf.readBigUInt64LE(0), cpuNs: buf.readBigUInt64LE(8) };
}

export interface CpuSampleKey {
  /** The process (tgid). */
  pid: number;
  tid: number;
  /** Key (a 64-bit hash of the frames) in the window's kernel stack map; 0n: none (a user-mode sample, or lost). */
  kernelStack: bigint;
  /** Key (a 64-bit hash of the frames) in the window's user stack map; 0n: no user stack. */
  userStack: bigint;
  comm: string;
}

/** Decodes struct cpu_sample_key; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeCpuSampleKey(buf: Buffer): CpuSampleKey {
  requireBytes(buf, CPU_SAMPLE_KEY_SIZE, 'cpu sample key');
  return {
    pid: buf.readUInt32LE(0),
    tid: buf.readUInt32LE(4),
    kernelStack: buf.readBigUInt64LE(8),
    userStack: buf.readBigUInt64LE(16),
    comm: decodeComm(buf.subarray(24, CPU_SAMPLE_KEY_SIZE)),
  };
}

/** struct cpu_profile_config: struct pid_filter, u32 include_idle, u32 unwind_tables, u32 period_ns, u32 wall. */
export const CPU_PROFILE_CONFIG_SIZE = PID_FILTER_SIZE + 16;

/**
 * Encodes struct cpu_profile_config; more than MAX_FILTER_PIDS pids is HP_ERR_USAGE. `hz` (default 99) gives
 * period_ns, the CPU time of a sample without a measure; `wall` measures it (cpu_sample_value.cpu_ns).
 */
export function encodeCpuProfileConfig(opts: { pids: readonly number[]; includeIdle: boolean; unwindTables?: boolean; hz?: number; wall?: boolean }): Buffer {
  const buf = Buffer.alloc(CPU_PROFILE_CONFIG_SIZE);
  writePidFilter(buf, 0, opts.pids);
  buf.writeUInt32LE(opts.includeIdle ? 1 : 0, PID_FILTER_SIZE);
  buf.writeUInt32LE(opts.unwindTables ? 1 : 0, PID_FILTER_SIZE + 4);
  buf.writeUInt32LE(Math.round(1e9 / Math.max(1, opts.hz ?? 99)), PID_FILTER_SIZE + 8);
  buf.writeUInt32LE(opts.wall ? 1 : 0, PID_FILTER_SIZE + 12);
  return buf;
}

/** Indexes of the lost counters (enum cpu_lost_reason) and their metric label values. */
export const CPU_LOST_REASONS = ['kernel_stacks_map_full', 'user_stacks_map_full', 'user_stack_missing', 'counts_map_full'] as const;
export type CpuLostReason = (typeof CPU_LOST_REASONS)[number];
