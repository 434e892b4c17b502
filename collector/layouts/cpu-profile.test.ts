import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import {
  CPU_LOST_REASONS,
  CPU_PROFILE_CONFIG_SIZE,
  CPU_SAMPLE_KEY_SIZE,
  CPU_SAMPLE_VALUE_SIZE,
  decodeCpuSampleValue,
  decodeCpuSampleKey,
  encodeCpuProfileConfig,
} from './cpu-profile.js';

/** struct cpu_sample_key as the kernel writes it: u32 pid, u32 tid, u64 kernel_stack, u64 user_stack, char comm[16]. */
function sampleKey(pid: number, tid: number, kernel: bigint, user: bigint, comm: Buffer): Buffer {
  const key = Buffer.alloc(CPU_SAMPLE_KEY_SIZE);
  key.writeUInt32LE(pid, 0);
  key.writeUInt32LE(tid, 4);
  key.writeBigUInt64LE(kernel, 8);
  key.writeBigUInt64LE(user, 16);
  comm.copy(key, 24, 0, 16);
  return key;
}

describe('cpu-profile layouts (programs/cpu-profile.h)', () => {
  it('has the sizes of the header', () => {
    expect(CPU_SAMPLE_KEY_SIZE).toBe(40);
    expect(CPU_SAMPLE_VALUE_SIZE).toBe(16);
    expect(CPU_PROFILE_CONFIG_SIZE).toBe(276);
  });

  it('decodes struct cpu_sample_key from raw bytes', () => {
    const raw = Buffer.from([
      0xd2, 0x04, 0x00, 0x00, // pid 1234
      0xd8, 0x04, 0x00, 0x00, // tid 1240
      0x11, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, // kernel_stack 0xddccbbaa00000011
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0xf1, // user_stack 0xf102030405060708
      ...Buffer.from('worker\0junkjunk!'),
    ]);
    expect(decodeCpuSampleKey(raw)).toEqual({ pid: 1234, tid: 1240, kernelStack: 0xddccbbaa00000011n, userStack: 0xf102030405060708n, comm: 'worker' });
  });

  it('decodes the edge values', () => {
    const table: [Buffer, ReturnType<typeof decodeCpuSampleKey>][] = [
      // The idle task: pid 0, no user stack, a kernel stack.
      [sampleKey(0, 0, 0x8000_0000_0000_0001n, 0n, Buffer.from('swapper/1\0')), { pid: 0, tid: 0, kernelStack: 0x8000_0000_0000_0001n, userStack: 0n, comm: 'swapper/1' }],
      // A user-mode sample (no kernel stack: 0), the largest ids, a comm that fills all 16 bytes.
      [sampleKey(0xffff_ffff, 0xffff_fffe, 0n, 0xffff_ffff_ffff_ffffn, Buffer.from('sixteen-chars-xx')),
        { pid: 4294967295, tid: 4294967294, kernelStack: 0n, userStack: 0xffff_ffff_ffff_ffffn, comm: 'sixteen-chars-xx' }],
    ];
    for (const [raw, key] of table) expect(decodeCpuSampleKey(raw)).toEqual(key);
  });

  it('reads only the first 40 bytes of a longer buffer', () => {
    const raw = Buffer.concat([sampleKey(7, 8, 1n, 2n, Buffer.from('a\0')), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    expect(decodeCpuSampleKey(raw)).toEqual({ pid: 7, tid: 8, kernelStack: 1n, userStack: 2n, comm: 'a' });
  });

  it('refuses a short key with HP_ERR_LAYOUT', () => {
    expect(() => decodeCpuSampleKey(Buffer.alloc(39))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode cpu sample key: 39 bytes, need 40' }),
    );
  });

  it('decodes struct cpu_sample_value: count, cpu_ns', () => {
    const value = Buffer.alloc(CPU_SAMPLE_VALUE_SIZE);
    value.writeBigUInt64LE(5n, 0);
    value.writeBigUInt64LE(50_505_050n, 8);
    expect(decodeCpuSampleValue(value)).toEqual({ count: 5n, cpuNs: 50_505_050n });
    expect(() => decodeCpuSampleValue(Buffer.alloc(8))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode cpu sample value: 8 bytes, need 16' }),
    );
  });

  it('encodes struct cpu_profile_config: pid filter, include_idle, unwind_tables, period_ns, wall', () => {
    const whole = encodeCpuProfileConfig({ pids: [], includeIdle: false });
    // period_ns of the default 99 Hz; everything else zero.
    const expected = Buffer.alloc(CPU_PROFILE_CONFIG_SIZE);
    expected.writeUInt32LE(10_101_010, 268);
    expect(whole).toEqual(expected);
    expect(encodeCpuProfileConfig({ pids: [], includeIdle: false, hz: 1000, wall: true }).subarray(268)).toEqual(Buffer.from([0x40, 0x42, 0x0f, 0, 1, 0, 0, 0]));
    const buf = encodeCpuProfileConfig({ pids: [300, 70000], includeIdle: true });
    expect(buf.length).toBe(CPU_PROFILE_CONFIG_SIZE);
    expect(buf.subarray(0, 12)).toEqual(Buffer.from([2, 0, 0, 0, 0x2c, 0x01, 0, 0, 0x70, 0x11, 0x01, 0]));
    expect(buf.readUInt32LE(12)).toBe(0);
    expect(buf.readUInt32LE(260)).toBe(1);
    expect(buf.readUInt32LE(264)).toBe(0);
    expect(encodeCpuProfileConfig({ pids: [], includeIdle: false, unwindTables: true }).readUInt32LE(264)).toBe(1);
  });

  it('refuses more than 64 pids as a usage error (the CLI exits with status 2)', () => {
    const pids = Array.from({ length: 65 }, (_, i) => i + 1);
    expect(() => encodeCpuProfileConfig({ pids, includeIdle: false })).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.USAGE }),
    );
    expect(encodeCpuProfileConfig({ pids: pids.slice(0, 64), includeIdle: false }).readUInt32LE(0)).toBe(64);
  });

  it('names the lost counters in enum cpu_lost_reason order', () => {
    expect(CPU_LOST_REASONS).toEqual(['kernel_stacks_map_full', 'user_stacks_map_full', 'user_stack_missing', 'counts_map_full']);
  });
});
