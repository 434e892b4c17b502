// Mirrors programs/cpu-profile.h: struct cpu_sample_key, enum cpu_lost_reason and struct cpu_profile_config
// (little-endian). The shared limits and decoders are in ./common.ts (programs/common.h).
import { decodeComm, decodeThreadStacks, PID_FILTER_SIZE, requireBytes, TASK_COMM_LEN, THREAD_STACKS_SIZE, type ThreadStacks, writePidFilter } from './common.js';

export const CPU_PROFILE_HEADER = 'programs/cpu-profile.h';
/** struct cpu_sample_key: struct thread_stacks, then char comm[TASK_COMM_LEN]. */
export const CPU_SAMPLE_KEY_SIZE = THREAD_STACKS_SIZE + TASK_COMM_LEN;
/** The counts maps' value: a u64 sample count. */
export const CPU_SAMPLE_VALUE_SIZE = 8;

export interface CpuSampleKey extends ThreadStacks {
  comm: string;
}

/** Decodes struct cpu_sample_key; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeCpuSampleKey(buf: Buffer): CpuSampleKey {
  requireBytes(buf, CPU_SAMPLE_KEY_SIZE, 'cpu sample key');
  return { ...decodeThreadStacks(buf), comm: decodeComm(buf.subarray(THREAD_STACKS_SIZE, CPU_SAMPLE_KEY_SIZE)) };
}

/** struct cpu_profile_config: struct pid_filter, then u32 include_idle. */
export const CPU_PROFILE_CONFIG_SIZE = PID_FILTER_SIZE + 4;

/** Encodes struct cpu_profile_config; more than MAX_FILTER_PIDS pids is HP_ERR_USAGE. */
export function encodeCpuProfileConfig(opts: { pids: readonly number[]; includeIdle: boolean }): Buffer {
  const buf = Buffer.alloc(CPU_PROFILE_CONFIG_SIZE);
  writePidFilter(buf, 0, opts.pids);
  buf.writeUInt32LE(opts.includeIdle ? 1 : 0, PID_FILTER_SIZE);
  return buf;
}

/** Indexes of the lost counters (enum cpu_lost_reason) and their metric label values. */
export const CPU_LOST_REASONS = ['kernel_stack_collision', 'user_stack_collision', 'user_stack_missing', 'counts_map_full'] as const;
export type CpuLostReason = (typeof CPU_LOST_REASONS)[number];
