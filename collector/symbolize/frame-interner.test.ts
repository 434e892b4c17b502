import { describe, expect, it } from 'vitest';
import { FrameInterner, INTERNED_FRAME_BYTES } from './frame-interner.js';
import { JIT_MAPPING, UNKNOWN_MAPPING } from './profile-mappings.js';

describe('FrameInterner', () => {
  it('hands out one object per unknown address, JIT address and name, and unread-file address', () => {
    const t = new FrameInterner();
    const u = t.unknown(0x1000n, UNKNOWN_MAPPING);
    expect(t.unknown(0x1000n, UNKNOWN_MAPPING)).toBe(u);
    expect(u).toEqual({ address: 0x1000n, kind: 'unknown', mapping: UNKNOWN_MAPPING });
    expect(t.unknown(0x1001n, UNKNOWN_MAPPING)).not.toBe(u);

    const j = t.jit(0x2000n, 'LazyCompile:*foo', JIT_MAPPING);
    expect(t.jit(0x2000n, 'LazyCompile:*foo', JIT_MAPPING)).toBe(j);
    // The runtime reused the address for other code: a new frame with the new name.
    const renamed = t.jit(0x2000n, 'LazyCompile:*bar', JIT_MAPPING);
    expect(renamed).not.toBe(j);
    expect(renamed.functionName).toBe('LazyCompile:*bar');
    expect(j.functionName).toBe('LazyCompile:*foo');

    const mapping = { ...UNKNOWN_MAPPING, file: '/opt/unreadable' };
    const n = t.unnamed(0x3000n, mapping);
    expect(t.unnamed(0x3000n, mapping)).toBe(n);
    expect(t.unnamed(0x3000n, { ...mapping })).not.toBe(n);
    expect(n).toEqual({ address: 0x3000n, kind: 'native', mapping });
    expect(t.size).toBe(5); // two unknown, one JIT address (renamed in place), two unread-file frames
    expect(t.bytes).toBe(5 * INTERNED_FRAME_BYTES);
  });

  it('starts a table over past its bound, so what it holds stays bounded', () => {
    const t = new FrameInterner(100);
    const first = t.unknown(0n, UNKNOWN_MAPPING);
    for (let a = 0n; a < 1000n; a++) {
      t.unknown(a, UNKNOWN_MAPPING);
      t.jit(a, `f${a}`, JIT_MAPPING);
      t.unnamed(a, UNKNOWN_MAPPING);
    }
    expect(t.size).toBeLessThanOrEqual(300);
    expect(t.resets).toBeGreaterThanOrEqual(27);
    // Frames handed out before stay whole.
    expect(first).toEqual({ address: 0n, kind: 'unknown', mapping: UNKNOWN_MAPPING });
  });
});
