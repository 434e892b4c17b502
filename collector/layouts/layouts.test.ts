import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBioHistKey, encodeBiolatencyConfig, parseUeventDevname } from './biolatency.js';
import { issueRequestArgFromBtf } from '../sources/biolatency.js';
import { tracepointArity } from '../bpf/btf.js';
import {
  addLog2Hist,
  decodePerCpuLog2Hist,
  emptyHistogram,
  histogramCount,
  LOG2_HIST_SIZE,
  LOG2_HIST_SLOTS,
  log2Slot,
  medianSlot,
  slotUpperBoundNs,
} from './log2-hist.js';
import { decodeOffcpuKey, decodeOffcpuValue, encodeOffcpuConfig, OFFCPU_CONFIG_SIZE } from './offcpu.js';

describe('log2Slot mirrors log2_slot() of programs/log2-hist.bpf.h', () => {
  it('is upper-inclusive: slot k counts 2^(k-1) < v <= 2^k', () => {
    const table: [bigint, number][] = [
      [0n, 0], [1n, 0], [2n, 1], [3n, 2], [4n, 2], [5n, 3], [8n, 3], [9n, 4],
      [1000n, 10], [1024n, 10], [1025n, 11], [1n << 38n, 38], [(1n << 38n) + 1n, 39], [1n << 63n, 39], [(1n << 64n) - 1n, 39],
    ];
    for (const [v, slot] of table) expect(log2Slot(v), `slot of ${v}`).toBe(slot);
  });
  it('agrees with the bounds for every slot', () => {
    for (let k = 1; k < LOG2_HIST_SLOTS - 1; k++) {
      const hi = slotUpperBoundNs(k)!;
      expect(log2Slot(hi)).toBe(k);
      expect(log2Slot(hi + 1n)).toBe(k + 1);
    }
    expect(slotUpperBoundNs(LOG2_HIST_SLOTS - 1)).toBeNull();
    expect(() => slotUpperBoundNs(LOG2_HIST_SLOTS)).toThrow(RangeError);
  });
});

describe('log2 histogram values', () => {
  it('sums per-CPU struct log2_hist values', () => {
    const buf = Buffer.alloc(LOG2_HIST_SIZE * 2);
    buf.writeBigUInt64LE(3n, 8 * 5); // cpu 0, slot 5
    buf.writeBigUInt64LE(7n, 8 * LOG2_HIST_SLOTS); // cpu 0 sum
    buf.writeBigUInt64LE(2n, LOG2_HIST_SIZE + 8 * 5); // cpu 1, slot 5
    buf.writeBigUInt64LE(1n, LOG2_HIST_SIZE + 8 * 39); // cpu 1, overflow
    buf.writeBigUInt64LE(11n, LOG2_HIST_SIZE + 8 * LOG2_HIST_SLOTS);
    const h = decodePerCpuLog2Hist(buf);
    expect(h.slots[5]).toBe(5n);
    expect(h.slots[39]).toBe(1n);
    expect(h.sumNs).toBe(18n);
    expect(histogramCount(h)).toBe(6n);
    expect(medianSlot(h)).toBe(5);
    expect(medianSlot(emptyHistogram())).toBe(-1);
  });
  it('refuses a short value', () => {
    expect(() => addLog2Hist(emptyHistogram(), Buffer.alloc(LOG2_HIST_SIZE - 1))).toThrow(RangeError);
  });
});

describe('biolatency layouts (programs/biolatency.h)', () => {
  it('decodes struct bio_hist_key', () => {
    const buf = Buffer.from([254, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0]);
    expect(decodeBioHistKey(buf)).toEqual({ major: 254, minor: 16, operation: 'write' });
    buf.writeUInt32LE(4, 8);
    expect(decodeBioHistKey(buf).operation).toBe('other');
    buf.writeUInt32LE(99, 8);
    expect(decodeBioHistKey(buf).operation).toBe('other');
    expect(() => decodeBioHistKey(Buffer.alloc(8))).toThrow(RangeError);
  });
  it('encodes struct biolatency_config', () => {
    expect(encodeBiolatencyConfig({ issueRequestArg: 1 })).toEqual(Buffer.from([1, 0, 0, 0]));
  });
  it('parses DEVNAME from a uevent file', () => {
    expect(parseUeventDevname('MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=1\n')).toBe('vda');
    expect(parseUeventDevname('MAJOR=8\nDEVNAME=nvme0n1p2')).toBe('nvme0n1p2');
    expect(parseUeventDevname('MAJOR=8\nMINOR=0\n')).toBeNull();
    expect(parseUeventDevname('DEVNAME=\n')).toBeNull();
    expect(parseUeventDevname('')).toBeNull();
  });
});

describe('offcpu layouts (programs/offcpu.h)', () => {
  it('decodes struct offcpu_key and struct offcpu_value', () => {
    const key = Buffer.alloc(40);
    key.writeUInt32LE(1234, 0);
    key.writeUInt32LE(1240, 4);
    key.writeInt32LE(17, 8);
    key.writeInt32LE(-14, 12);
    key.writeUInt32LE(2, 16);
    key.write('sleepy\0garbage', 24, 'latin1');
    expect(decodeOffcpuKey(key)).toEqual({ pid: 1234, tid: 1240, kernelStackId: 17, userStackId: -14, stackMap: 2, comm: 'sleepy' });
    const value = Buffer.alloc(16);
    value.writeBigUInt64LE(3_000_000_000n, 0);
    value.writeBigUInt64LE(300n, 8);
    expect(decodeOffcpuValue(value)).toEqual({ totalNs: 3_000_000_000n, count: 300n });
    expect(() => decodeOffcpuKey(Buffer.alloc(39))).toThrow(RangeError);
  });
  it('encodes struct offcpu_config', () => {
    const buf = encodeOffcpuConfig({ pids: [7, 9], minBlockNs: 5000n });
    expect(buf.length).toBe(OFFCPU_CONFIG_SIZE);
    expect(buf.readBigUInt64LE(0)).toBe(5000n);
    expect(buf.readUInt32LE(8)).toBe(2);
    expect([buf.readUInt32LE(16), buf.readUInt32LE(20)]).toEqual([7, 9]);
    expect(() => encodeOffcpuConfig({ pids: new Array(65).fill(1), minBlockNs: 0n })).toThrow(RangeError);
  });
});

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
