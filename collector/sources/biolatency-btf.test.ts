import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { issueRequestArgFromBtf } from './biolatency.js';
import { tracepointArity } from '../bpf/btf.js';

/** A BTF blob: int, void * ptr, func protos and typedefs btf_trace_<name> for each given arity. */
function syntheticBtf(tracepoints: Record<string, number>): Buffer {
  const strings: string[] = [''];
  const str = (s: string) => {
    const off = Buffer.byteLength(strings.join('\0') + '\0');
    strings.push(s);
    return off;
  };
  const types: Buffer[] = [];
  const add = (nameOff: number, kind: number, vlen: number, sizeOrType: number, extra: Buffer = Buffer.alloc(0)) => {
    const b = Buffer.alloc(12);
    b.writeUInt32LE(nameOff, 0);
    b.writeUInt32LE((kind << 24) | vlen, 4);
    b.writeUInt32LE(sizeOrType, 8);
    types.push(Buffer.concat([b, extra]));
    return types.length; // type id
  };
  const intId = add(str('int'), 1, 0, 4, Buffer.from([32, 0, 0, 0]));
  const voidPtr = add(0, 2, 0, 0);
  for (const [name, arity] of Object.entries(tracepoints)) {
    const params = Buffer.alloc(8 * (arity + 1));
    params.writeUInt32LE(voidPtr, 4);
    for (let i = 1; i <= arity; i++) params.writeUInt32LE(intId, 8 * i + 4);
    const proto = add(0, 13, arity + 1, 0, params);
    const ptr = add(0, 2, 0, proto);
    add(str(`btf_trace_${name}`), 8, 0, ptr);
  }
  const typeSec = Buffer.concat(types);
  const strSec = Buffer.from(strings.join('\0') + '\0');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr.writeUInt8(1, 2);
  hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeSec.length, 12);
  hdr.writeUInt32LE(typeSec.length, 16);
  hdr.writeUInt32LE(strSec.length, 20);
  return Buffer.concat([hdr, typeSec, strSec]);
}

describe('tracepointArity (BTF)', () => {
  it('reads both block_rq_issue signatures', () => {
    expect(tracepointArity(syntheticBtf({ block_rq_issue: 1 }), 'block_rq_issue')).toEqual({ ok: true, args: 1 });
    expect(issueRequestArgFromBtf(syntheticBtf({ block_rq_issue: 1 }))).toBe(0);
    expect(issueRequestArgFromBtf(syntheticBtf({ sched_switch: 4, block_rq_issue: 2 }))).toBe(1);
  });
  it('reports bad or foreign input without throwing', () => {
    expect(tracepointArity(Buffer.alloc(10), 'x').ok).toBe(false);
    expect(tracepointArity(syntheticBtf({ a: 1 }), 'block_rq_issue')).toEqual({ ok: false, error: 'no tracepoint block_rq_issue in BTF' });
    const truncated = syntheticBtf({ block_rq_issue: 1 }).subarray(0, 40);
    expect(tracepointArity(truncated, 'block_rq_issue').ok).toBe(false);
    expect(() => issueRequestArgFromBtf(Buffer.alloc(3))).toThrow(/block_rq_issue signature/);
  });
  it('reads this kernel: block_rq_issue(rq), sched_switch(preempt, prev, next, prev_state)', () => {
    const btf = readFileSync('/sys/kernel/btf/vmlinux');
    expect(tracepointArity(btf, 'block_rq_issue')).toEqual({ ok: true, args: 1 });
    expect(tracepointArity(btf, 'sched_switch')).toEqual({ ok: true, args: 4 });
    expect(tracepointArity(btf, 'sched_wakeup')).toEqual({ ok: true, args: 1 });
  });
});
