// Mirrors programs/io.h: struct io_key, struct io_value, struct io_config and enum io_lost_reason
// (little-endian). The operation classes are enum bio_op (./biolatency.ts); the shared limits are in
// ./common.ts (programs/common.h).
import { requireBytes, decodeComm, PID_FILTER_SIZE, TASK_COMM_LEN, writePidFilter } from './common.js';
import { BIO_OPERATIONS, type BioOperation } from './biolatency.js';

export const IO_HEADER = 'programs/io.h';
/**
 * struct io_key: u32 pid, u32 tid, u32 stack_map, u32 op, u64 kernel_stack, u64 user_stack, char comm[16],
 * u32 major, u32 minor.
 */
export const IO_KEY_SIZE = 32 + TASK_COMM_LEN + 8;
export const IO_VALUE_SIZE = 16;
export const IO_STACK_MAPS = 3;
/** struct io_config: struct pid_filter, u32 unwind_tables, u32 issue_rq_arg. */
export const IO_CONFIG_SIZE = PID_FILTER_SIZE + 8;

export interface IoKey {
  /** The process (tgid) that submitted the request. */
  pid: number;
  tid: number;
  /** Key (a 64-bit hash of the frames) in stacks_{stackMap}; 0n: none. */
  kernelStack: bigint;
  /** Which stacks_N and user_stacks_N maps the ids index. */
  stackMap: number;
  /** Key (a 64-bit hash of the frames) in user_stacks_{stackMap}; 0n: none. */
  userStack: bigint;
  comm: string;
  /** The request's disk; 0:0 when it had none. */
  major: number;
  minor: number;
  operation: BioOperation;
}

export interface IoValue {
  totalNs: bigint;
  count: bigint;
}

/** Decodes struct io_key; a shorter buffer is HP_ERR_LAYOUT. An unknown op decodes as 'other'. */
export function decodeIoKey(buf: Buffer): IoKey {
  requireBytes(buf, IO_KEY_SIZE, 'io key');
  return {
    pid: buf.readUInt32LE(0),
    tid: buf.readUInt32LE(4),
    stackMap: buf.readUInt32LE(8),
    kernelStack: buf.readBigUInt64LE(16),
    userStack: buf.readBigUInt64LE(24),
    comm: decodeComm(buf.subarray(32, 32 + TASK_COMM_LEN)),
    major: buf.readUInt32LE(48),
    minor: buf.readUInt32LE(52),
    operation: BIO_OPERATIONS[buf.readUInt32LE(12)] ?? 'other',
  };
}

/** Decodes struct io_value; a shorter buffer is HP_ERR_LAYOUT. */
export function decodeIoValue(buf: Buffer): IoValue {
  requireBytes(buf, IO_VALUE_SIZE, 'io value');
  return { totalNs: buf.readBigUInt64LE(0), count: buf.readBigUInt64LE(8) };
}

/** Encodes struct io_config; more than MAX_FILTER_PIDS pids is HP_ERR_USAGE. */
export function encodeIoConfig(opts: { pids: readonly number[]; unwindTables: boolean; issueRequestArg: 0 | 1 }): Buffer {
  const buf = Buffer.alloc(IO_CONFIG_SIZE);
  writePidFilter(buf, 0, opts.pids);
  buf.writeUInt32LE(opts.unwindTables ? 1 : 0, PID_FILTER_SIZE);
  buf.writeUInt32LE(opts.issueRequestArg, PID_FILTER_SIZE + 4);
  return buf;
}

/** enum io_lost_reason, by index: the `reason` label values. */
export const IO_LOST_REASONS = [
  'io_kernel_stack',
  'io_user_stack',
  'io_counts_map_full',
  'io_stack_expired',
  'io_request_map_full',
] as const;
export type IoLostReason = (typeof IO_LOST_REASONS)[number];
