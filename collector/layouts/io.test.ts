import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodeIoKey, decodeIoValue, encodeIoConfig, IO_CONFIG_SIZE, IO_KEY_SIZE, IO_LOST_REASONS, IO_VALUE_SIZE } from './io.js';

describe('io layouts (programs/io.h)', () => {
  it('has the sizes of the header', () => {
    expect([IO_KEY_SIZE, IO_VALUE_SIZE, IO_CONFIG_SIZE]).toEqual([56, 16, 268]);
  });
  it('decodes struct io_key and struct io_value', () => {
    const key = Buffer.alloc(56);
    key.writeUInt32LE(1234, 0);
    key.writeUInt32LE(1240, 4);
    key.writeUInt32LE(2, 8);
    key.writeUInt32LE(1, 12);
    key.writeBigUInt64LE(0x8000000000000001n, 16);
    key.writeBigUInt64LE(0xfedcba9876543210n, 24);
    key.write('fio\0garbage', 32, 'latin1');
    key.writeUInt32LE(254, 48);
    key.writeUInt32LE(16, 52);
    expect(decodeIoKey(key)).toEqual({
      pid: 1234, tid: 1240, kernelStack: 0x8000000000000001n, stackMap: 2, userStack: 0xfedcba9876543210n, comm: 'fio', major: 254, minor: 16, operation: 'write',
    });
    key.writeUInt32LE(77, 12);
    expect(decodeIoKey(key).operation).toBe('other');
    const value = Buffer.alloc(16);
    value.writeBigUInt64LE(3_000_000_000n, 0);
    value.writeBigUInt64LE(300n, 8);
    expect(decodeIoValue(value)).toEqual({ totalNs: 3_000_000_000n, count: 300n });
  });
  it('refuses short buffers with HP_ERR_LAYOUT', () => {
    expect(() => decodeIoKey(Buffer.alloc(55))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode io key: 55 bytes, need 56' }),
    );
    expect(() => decodeIoValue(Buffer.alloc(8))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode io value: 8 bytes, need 16' }),
    );
  });
  it('encodes struct io_config and refuses too many pids with HP_ERR_USAGE', () => {
    const buf = encodeIoConfig({ pids: [7, 8], unwindTables: true, issueRequestArg: 1 });
    expect(buf.readUInt32LE(0)).toBe(2);
    expect(buf.readUInt32LE(8)).toBe(8);
    expect(buf.readUInt32LE(260)).toBe(1);
    expect(buf.readUInt32LE(264)).toBe(1);
    expect(() => encodeIoConfig({ pids: Array.from({ length: 65 }, (_, i) => i + 1), unwindTables: false, issueRequestArg: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.USAGE }),
    );
  });
  it('names every lost reason after the program', () => {
    expect(IO_LOST_REASONS).toHaveLength(5);
    for (const r of IO_LOST_REASONS) expect(r.startsWith('io_')).toBe(true);
  });
});
