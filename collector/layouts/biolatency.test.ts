import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { BIO_HIST_KEY_SIZE, BIO_OPERATIONS, BIOLATENCY_CONFIG_SIZE, BIOLATENCY_LOST_REASONS, decodeBioHistKey, encodeBiolatencyConfig, parseUeventDevname } from './biolatency.js';

describe('biolatency layouts (programs/biolatency.h)', () => {
  it('decodes struct bio_hist_key', () => {
    expect(BIO_HIST_KEY_SIZE).toBe(12);
    const buf = Buffer.from([254, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0]);
    expect(decodeBioHistKey(buf)).toEqual({ major: 254, minor: 16, operation: 'write' });
    buf.writeUInt32LE(4, 8);
    expect(decodeBioHistKey(buf).operation).toBe('other');
    buf.writeUInt32LE(99, 8);
    expect(decodeBioHistKey(buf).operation).toBe('other');
    expect(() => decodeBioHistKey(Buffer.alloc(8))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode bio histogram key: 8 bytes, need 12' }),
    );
  });
  it('names enum bio_op in order', () => {
    expect(BIO_OPERATIONS).toEqual(['read', 'write', 'flush', 'discard', 'other']);
  });
  it('names the lost counters in enum biolatency_lost_reason order', () => {
    expect(BIOLATENCY_LOST_REASONS).toEqual(['biolatency_start_map_full', 'biolatency_hist_map_full']);
  });
  it('encodes struct biolatency_config', () => {
    expect(encodeBiolatencyConfig({ issueRequestArg: 1 })).toEqual(Buffer.from([1, 0, 0, 0]));
    expect(encodeBiolatencyConfig({ issueRequestArg: 0 })).toEqual(Buffer.alloc(BIOLATENCY_CONFIG_SIZE));
  });
  it('parses DEVNAME from a uevent file', () => {
    expect(parseUeventDevname('MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=1\n')).toBe('vda');
    expect(parseUeventDevname('MAJOR=8\nDEVNAME=nvme0n1p2')).toBe('nvme0n1p2');
    expect(parseUeventDevname('MAJOR=8\nMINOR=0\n')).toBeNull();
    expect(parseUeventDevname('DEVNAME=\n')).toBeNull();
    expect(parseUeventDevname('')).toBeNull();
  });
});
