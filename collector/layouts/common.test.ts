import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodeComm, decodeStack, decodeThreadStacks, requireBytes, sumPerCpuU64, writePidFilter } from './common.js';
import { MAX_FILTER_PIDS, MAX_STACK_DEPTH, PID_FILTER_SIZE, STACK_TRACE_SIZE, TASK_COMM_LEN, THREAD_STACKS_SIZE } from './common.js';

describe('common layouts (programs/common.h)', () => {
  it('states the shared limits', () => {
    expect([TASK_COMM_LEN, MAX_STACK_DEPTH, MAX_FILTER_PIDS]).toEqual([16, 127, 64]);
    expect(STACK_TRACE_SIZE).toBe(1016);
    expect(PID_FILTER_SIZE).toBe(260);
  });

  it('decodes struct thread_stacks: u32 pid, u32 tid, s32 stack ids', () => {
    expect(THREAD_STACKS_SIZE).toBe(16);
    const raw = Buffer.from([0x39, 0x30, 0, 0, 0x3a, 0x30, 0, 0, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xaa]);
    expect(decodeThreadStacks(raw)).toEqual({ pid: 12345, tid: 12346, kernelStackId: -17, userStackId: 2147483647 });
  });

  it('decodes a comm: NUL-terminated, or all 16 bytes, bad UTF-8 replaced', () => {
    const table: [number[], string][] = [
      [[...Buffer.from('bash'), 0, 0x41, 0x42], 'bash'],
      [[...Buffer.from('a-name-of-16-by!')], 'a-name-of-16-by!'],
      [[0, 0x41], ''],
      [[0x66, 0xff, 0x6f, 0], 'f\uFFFDo'],
    ];
    for (const [bytes, comm] of table) expect(decodeComm(Buffer.from(bytes))).toBe(comm);
  });

  it('decodes a stack trace map value up to its first zero address', () => {
    const value = Buffer.alloc(STACK_TRACE_SIZE);
    value.writeBigUInt64LE(0xffffffff81000010n, 0);
    value.writeBigUInt64LE(0x7f0000001234n, 8);
    value.writeBigUInt64LE(0x1000n, 24); // after the zero at 16: not part of the stack
    expect(decodeStack(value)).toEqual([0xffffffff81000010n, 0x7f0000001234n]);
    expect(decodeStack(Buffer.alloc(STACK_TRACE_SIZE))).toEqual([]);
    const full = Buffer.alloc(STACK_TRACE_SIZE, 0x11);
    expect(decodeStack(full)).toHaveLength(MAX_STACK_DEPTH);
    expect(decodeStack(Buffer.from([1, 2, 3]))).toEqual([]); // a trailing partial address is ignored
  });

  it('sums a per-CPU u64 value', () => {
    const value = Buffer.alloc(24);
    value.writeBigUInt64LE(5n, 0);
    value.writeBigUInt64LE(0n, 8);
    value.writeBigUInt64LE(2n ** 63n, 16);
    expect(sumPerCpuU64(value)).toBe(2n ** 63n + 5n);
    expect(sumPerCpuU64(Buffer.alloc(0))).toBe(0n);
  });

  it('writes struct pid_filter: count, then the tgids', () => {
    const buf = Buffer.alloc(4 + PID_FILTER_SIZE, 0xee);
    writePidFilter(buf, 4, [1, 4_194_304]);
    expect(buf.subarray(0, 16)).toEqual(Buffer.from([0xee, 0xee, 0xee, 0xee, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x40, 0]));
    const all = Buffer.alloc(PID_FILTER_SIZE);
    writePidFilter(all, 0, Array.from({ length: MAX_FILTER_PIDS }, (_, i) => i + 1));
    expect(all.readUInt32LE(0)).toBe(64);
    expect(all.readUInt32LE(PID_FILTER_SIZE - 4)).toBe(64);
  });

  it('refuses more than MAX_FILTER_PIDS pids, or one that is not a u32, as a usage error', () => {
    expect(() => writePidFilter(Buffer.alloc(PID_FILTER_SIZE + 4), 0, new Array(65).fill(1))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.USAGE, message: expect.stringMatching(/at most 64 processes/) }),
    );
    for (const pid of [-1, 1.5, 2 ** 32]) {
      expect(() => writePidFilter(Buffer.alloc(PID_FILTER_SIZE), 0, [pid]), `pid ${pid}`).toThrow(
        expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.USAGE }),
      );
    }
  });

  it('refuses a short buffer with HP_ERR_LAYOUT, naming what was decoded', () => {
    expect(() => requireBytes(Buffer.alloc(8), 8, 'x')).not.toThrow();
    expect(() => requireBytes(Buffer.alloc(7), 8, 'thing')).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode thing: 7 bytes, need 8' }),
    );
  });
});
