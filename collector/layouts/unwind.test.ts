import { describe, expect, it } from 'vitest';
import { MAX_STACK_DEPTH } from './common.js';
import { copyUserStack, decodeUserStack, USER_STACK_SIZE } from './unwind.js';

function userStack(addrs: bigint[], into = Buffer.alloc(USER_STACK_SIZE), at = 0): Buffer {
  const b = into.subarray(at, at + USER_STACK_SIZE);
  b.fill(0);
  b.writeBigUInt64LE(BigInt(addrs.length), 0);
  addrs.forEach((a, i) => b.writeBigUInt64LE(a, 8 + 8 * i));
  return b;
}

describe('copyUserStack', () => {
  it('gives the addresses decodeUserStack gives, and keeps them after the drain reuses its buffer', () => {
    const scratch = Buffer.alloc(USER_STACK_SIZE * 2);
    const a = [0x7f0000001234n, 0x55550000abcdn, 0xffffffffffffffffn];
    const viewA = copyUserStack(userStack(a, scratch, 0));
    expect(Array.from(viewA)).toEqual(decodeUserStack(userStack(a)));
    const b = [1n, 2n];
    const viewB = copyUserStack(userStack(b, scratch, 0)); // the same bytes overwritten, as the next batch does
    expect(Array.from(viewA)).toEqual(a);
    expect(Array.from(viewB)).toEqual(b);
  });

  it('reads a buffer at an odd offset, clamps the depth and copes with an empty stack', () => {
    const raw = Buffer.alloc(USER_STACK_SIZE + 3);
    const odd = userStack([9n, 8n, 7n], raw, 3);
    expect(Array.from(copyUserStack(odd))).toEqual([9n, 8n, 7n]);
    const deep = Buffer.alloc(USER_STACK_SIZE);
    deep.writeBigUInt64LE(10_000n, 0);
    expect(copyUserStack(deep).length).toBe(MAX_STACK_DEPTH);
    expect(copyUserStack(userStack([])).length).toBe(0);
    expect(() => copyUserStack(Buffer.alloc(8))).toThrow();
  });

  it('fills chunks and starts new ones without corrupting earlier views', () => {
    const views: { view: BigUint64Array; first: bigint }[] = [];
    for (let i = 0; i < 2000; i++) {
      const addrs = Array.from({ length: 100 }, (_, j) => BigInt(i * 1000 + j));
      views.push({ view: copyUserStack(userStack(addrs)), first: BigInt(i * 1000) });
    }
    for (const { view, first } of views) {
      expect(view.length).toBe(100);
      expect(view[0]).toBe(first);
      expect(view[99]).toBe(first + 99n);
    }
  });
});
