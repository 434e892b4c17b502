import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodeOffcpuKey, decodeOffcpuValue, encodeOffcpuConfig, OFFCPU_CONFIG_SIZE, OFFCPU_KEY_SIZE, OFFCPU_LOST_REASONS, OFFCPU_VALUE_SIZE } from './offcpu.js';

describe('offcpu layouts (programs/offcpu.h)', () => {
  it('has the sizes of the header', () => {
    expect([OFFCPU_KEY_SIZE, OFFCPU_VALUE_SIZE, OFFCPU_CONFIG_SIZE]).toEqual([40, 32, 280]);
  });
  it('decodes struct offcpu_key and struct offcpu_value', () => {
    const key = Buffer.alloc(40);
    key.writeUInt32LE(1234, 0);
    key.writeUInt32LE(1240, 4);
    key.writeInt32LE(17, 8);
    key.writeUInt16LE(2, 12);
    key.writeBigUInt64LE(0xfedcba9876543210n, 16);
    key.write('sleepy\0garbage', 24, 'latin1');
    expect(decodeOffcpuKey(key)).toEqual({
      pid: 1234, tid: 1240, kernelStackId: 17, stackMap: 2, state: 'none', belowMinBlock: false, userStack: 0xfedcba9876543210n, comm: 'sleepy',
    });
    const value = Buffer.alloc(32);
    value.writeBigUInt64LE(3_000_000_000n, 0);
    value.writeBigUInt64LE(300n, 8);
    value.writeBigUInt64LE(1_000_000n, 16);
    value.writeBigUInt64LE(2_000_000n, 24);
    expect(decodeOffcpuValue(value)).toEqual({ totalNs: 3_000_000_000n, count: 300n, runnableNs: 1_000_000n, oncpuNs: 2_000_000n });
  });
  it('decodes the state of struct offcpu_key: enum offcpu_state and the below-min-block flag', () => {
    const key = Buffer.alloc(40);
    const stateOf = (raw: number) => {
      key.writeUInt16LE(raw, 14);
      const k = decodeOffcpuKey(key);
      return [k.state, k.belowMinBlock];
    };
    expect([0, 1, 2, 3, 0x101, 0x103].map(stateOf)).toEqual([
      ['none', false], ['runnable', false], ['io', false], ['sleeping', false], ['runnable', true], ['sleeping', true],
    ]);
    // A value the header does not define reads as unclassified rather than failing the window.
    expect(stateOf(9)).toEqual(['none', false]);
  });
  it('refuses short buffers with HP_ERR_LAYOUT', () => {
    expect(() => decodeOffcpuKey(Buffer.alloc(39))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode offcpu key: 39 bytes, need 40' }),
    );
    expect(() => decodeOffcpuValue(Buffer.alloc(8))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode offcpu value: 8 bytes, need 32' }),
    );
  });
  it('encodes struct offcpu_config: min_block_ns, pid filter, unwind_tables', () => {
    const buf = encodeOffcpuConfig({ pids: [7, 9], minBlockNs: 5000n });
    expect(buf.length).toBe(OFFCPU_CONFIG_SIZE);
    expect(buf.subarray(0, 20)).toEqual(Buffer.from([0x88, 0x13, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0]));
    expect(buf.subarray(20).every((b) => b === 0)).toBe(true);
    expect(encodeOffcpuConfig({ pids: [], minBlockNs: 0n, unwindTables: true }).readUInt32LE(268)).toBe(1);
    expect(encodeOffcpuConfig({ pids: [], minBlockNs: 0n, wall: true }).readUInt32LE(272)).toBe(1);
  });
  it('refuses more than 64 pids and a minimum outside u64 as usage errors', () => {
    const usage = expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.USAGE });
    expect(() => encodeOffcpuConfig({ pids: new Array(65).fill(1), minBlockNs: 0n })).toThrow(usage);
    expect(() => encodeOffcpuConfig({ pids: [], minBlockNs: -1n })).toThrow(usage);
    expect(() => encodeOffcpuConfig({ pids: [], minBlockNs: 1n << 64n })).toThrow(usage);
    expect(encodeOffcpuConfig({ pids: [], minBlockNs: (1n << 64n) - 1n }).readBigUInt64LE(0)).toBe((1n << 64n) - 1n);
  });
  it('names the lost counters in enum offcpu_lost_reason order', () => {
    expect(OFFCPU_LOST_REASONS).toEqual(['offcpu_kernel_stack', 'offcpu_user_stack', 'offcpu_counts_map_full', 'offcpu_stack_expired', 'offcpu_user_stack_outside_syscall',
      'offcpu_start_map_full', 'offcpu_task_storage']);
  });
});
