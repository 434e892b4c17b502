// The mirrors against the compiled programs: every struct a decoder or encoder mirrors is read back from the
// BTF of dist/programs/<name>.bpf.o (bpftool, as the build uses), so a header changed without its mirror fails
// here rather than at load. Fields are written and read at the offsets the compiler chose, never restated.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { programObjectPath } from '../bpf/program-files.js';
import * as bio from './biolatency.js';
import * as common from './common.js';
import * as cpu from './cpu-profile.js';
import * as io from './io.js';
import * as log2 from './log2-hist.js';
import * as offcpu from './offcpu.js';
import * as runqlat from './runqlat.js';
import * as unwind from './unwind.js';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

/** The BTF of one compiled program, as `bpftool -j btf dump file` prints it. */
class ProgramBtf {
  private readonly types = new Map<number, BtfType>();

  constructor(program: string) {
    const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', programObjectPath(program)], { maxBuffer: 1 << 28 });
    for (const t of (JSON.parse(out.toString()) as { types: BtfType[] }).types) this.types.set(t.id, t);
  }

  private named(kind: string, name: string): BtfType {
    for (const t of this.types.values()) if (t.kind === kind && t.name === name) return t;
    throw new Error(`no ${kind} ${name} in BTF`);
  }

  /** Follows typedefs and qualifiers. */
  private resolve(id: number): BtfType {
    let t = this.types.get(id)!;
    while (['TYPEDEF', 'CONST', 'VOLATILE'].includes(t.kind)) t = this.types.get(t.type_id!)!;
    return t;
  }

  private member(struct: BtfType, name: string) {
    const m = struct.members?.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name} in struct ${struct.name}`);
    return m;
  }

  sizeOf(struct: string): number {
    return this.named('STRUCT', struct).size!;
  }

  /** Byte offset of a member path such as "filter.pids". */
  offsetOf(struct: string, path: string): number {
    let t = this.named('STRUCT', struct);
    let offset = 0;
    for (const name of path.split('.')) {
      const m = this.member(t, name);
      offset += m.bits_offset / 8;
      t = this.resolve(m.type_id);
    }
    return offset;
  }

  /** Element count of an array member path. */
  lengthOf(struct: string, path: string): number {
    const parts = path.split('.');
    const last = parts.pop()!;
    let t = this.named('STRUCT', struct);
    for (const name of parts) t = this.resolve(this.member(t, name).type_id);
    return this.resolve(this.member(t, last).type_id).nr_elems!;
  }

  has(kind: string, name: string): boolean {
    return [...this.types.values()].some((t) => t.kind === kind && t.name === name);
  }

  /** A map definition's `__uint(field, N)`: a pointer to an array of N. */
  mapNumber(map: string, field: 'max_entries' | 'key_size' | 'value_size'): number {
    const def = this.resolve(this.named('VAR', map).type_id!);
    return this.resolve(this.resolve(this.member(def, field).type_id).type_id!).nr_elems!;
  }

  /** Size of a map definition's `__type(field, T)`. */
  mapTypeSize(map: string, field: 'key' | 'value'): number {
    const def = this.resolve(this.named('VAR', map).type_id!);
    return this.resolve(this.resolve(this.member(def, field).type_id).type_id!).size!;
  }
}

describe('mirrors of programs/common.h and programs/cpu-profile.h against cpu-profile.bpf.o', () => {
  const btf = new ProgramBtf('cpu-profile');

  it('has the shared limits and struct pid_filter', () => {
    expect(btf.sizeOf('pid_filter')).toBe(common.PID_FILTER_SIZE);
    expect(btf.lengthOf('pid_filter', 'pids')).toBe(common.MAX_FILTER_PIDS);
    expect(btf.lengthOf('cpu_sample_key', 'comm')).toBe(common.TASK_COMM_LEN);
    // Kernel stacks in our own hash maps, in the user stacks' layout (programs/kernel-stack.bpf.h).
    expect(btf.mapTypeSize('stacks_0', 'value')).toBe(unwind.USER_STACK_SIZE);
    expect(btf.lengthOf('user_stack', 'ips')).toBe(common.MAX_STACK_DEPTH);
  });

  it('decodes struct cpu_sample_key at the compiled offsets', () => {
    expect(btf.sizeOf('cpu_sample_key')).toBe(cpu.CPU_SAMPLE_KEY_SIZE);
    expect(btf.mapTypeSize('counts_0', 'value')).toBe(cpu.CPU_SAMPLE_VALUE_SIZE);
    const key = Buffer.alloc(btf.sizeOf('cpu_sample_key'));
    key.writeUInt32LE(101, btf.offsetOf('cpu_sample_key', 'pid'));
    key.writeUInt32LE(102, btf.offsetOf('cpu_sample_key', 'tid'));
    key.writeBigUInt64LE(0xfeedn, btf.offsetOf('cpu_sample_key', 'kernel_stack'));
    key.writeBigUInt64LE(0x1234_5678_9abc_def0n, btf.offsetOf('cpu_sample_key', 'user_stack'));
    key.write('comm\0', btf.offsetOf('cpu_sample_key', 'comm'), 'latin1');
    expect(cpu.decodeCpuSampleKey(key)).toEqual({ pid: 101, tid: 102, kernelStack: 0xfeedn, userStack: 0x1234_5678_9abc_def0n, comm: 'comm' });
    expect(btf.sizeOf('cpu_sample_value')).toBe(cpu.CPU_SAMPLE_VALUE_SIZE);
    const value = Buffer.alloc(cpu.CPU_SAMPLE_VALUE_SIZE);
    value.writeBigUInt64LE(3n, btf.offsetOf('cpu_sample_value', 'count'));
    value.writeBigUInt64LE(30_303_030n, btf.offsetOf('cpu_sample_value', 'cpu_ns'));
    expect(cpu.decodeCpuSampleValue(value)).toEqual({ count: 3n, cpuNs: 30_303_030n });
  });

  it('encodes struct cpu_profile_config at the compiled offsets', () => {
    expect(btf.sizeOf('cpu_profile_config')).toBe(cpu.CPU_PROFILE_CONFIG_SIZE);
    const buf = cpu.encodeCpuProfileConfig({ pids: [11, 12], includeIdle: true, unwindTables: true });
    expect(buf.readUInt32LE(btf.offsetOf('cpu_profile_config', 'filter.count'))).toBe(2);
    expect(buf.readUInt32LE(btf.offsetOf('cpu_profile_config', 'filter.pids') + 4)).toBe(12);
    expect(buf.readUInt32LE(btf.offsetOf('cpu_profile_config', 'include_idle'))).toBe(1);
    expect(buf.readUInt32LE(btf.offsetOf('cpu_profile_config', 'unwind_tables'))).toBe(1);
    const wall = cpu.encodeCpuProfileConfig({ pids: [], includeIdle: false, hz: 250, wall: true });
    expect(wall.readUInt32LE(btf.offsetOf('cpu_profile_config', 'period_ns'))).toBe(4_000_000);
    expect(wall.readUInt32LE(btf.offsetOf('cpu_profile_config', 'wall'))).toBe(1);
  });

  it('mirrors programs/unwind.h: mappings, processes, user stacks, counters', () => {
    expect(btf.sizeOf('unwind_row')).toBe(16);
    expect(btf.sizeOf('unwind_mapping')).toBe(unwind.UNWIND_MAPPING_SIZE);
    expect(btf.sizeOf('unwind_process')).toBe(unwind.UNWIND_PROCESS_SIZE);
    expect(btf.lengthOf('unwind_process', 'mappings')).toBe(unwind.UNWIND_MAX_MAPPINGS);
    expect(btf.sizeOf('user_stack')).toBe(unwind.USER_STACK_SIZE);
    expect(btf.mapTypeSize('unwind_counters', 'value')).toBe(unwind.UNWIND_COUNTS_SIZE);
    const proc = unwind.encodeUnwindProcess([{ start: 0x1000n, end: 0x2000n, bias: -0x400n, firstRow: 7, rows: 9 }]);
    expect(proc.readUInt32LE(btf.offsetOf('unwind_process', 'count'))).toBe(1);
    const m0 = btf.offsetOf('unwind_process', 'mappings');
    expect(proc.readBigUInt64LE(m0 + btf.offsetOf('unwind_mapping', 'bias'))).toBe(2n ** 64n - 0x400n);
    expect(proc.readUInt32LE(m0 + btf.offsetOf('unwind_mapping', 'rows'))).toBe(9);
    const stack = Buffer.alloc(unwind.USER_STACK_SIZE);
    stack.writeBigUInt64LE(2n, btf.offsetOf('user_stack', 'len'));
    stack.writeBigUInt64LE(0xaaan, btf.offsetOf('user_stack', 'ips'));
    stack.writeBigUInt64LE(0xbbbn, btf.offsetOf('user_stack', 'ips') + 8);
    expect(unwind.decodeUserStack(stack)).toEqual([0xaaan, 0xbbbn]);
  });

  it('sizes the lost counters by enum cpu_lost_reason', () => {
    expect(btf.mapNumber('lost', 'max_entries')).toBe(cpu.CPU_LOST_REASONS.length);
  });
});

describe('mirrors of programs/offcpu.h against offcpu.bpf.o', () => {
  const btf = new ProgramBtf('offcpu');

  it('decodes struct offcpu_key and struct offcpu_value at the compiled offsets', () => {
    expect([btf.sizeOf('offcpu_key'), btf.sizeOf('offcpu_value')]).toEqual([offcpu.OFFCPU_KEY_SIZE, offcpu.OFFCPU_VALUE_SIZE]);
    const key = Buffer.alloc(offcpu.OFFCPU_KEY_SIZE);
    key.writeUInt32LE(201, btf.offsetOf('offcpu_key', 'pid'));
    key.writeUInt32LE(202, btf.offsetOf('offcpu_key', 'tid'));
    key.writeInt32LE(203, btf.offsetOf('offcpu_key', 'kernel_stack_id'));
    key.writeBigUInt64LE(0xabcn, btf.offsetOf('offcpu_key', 'user_stack'));
    key.writeUInt16LE(2, btf.offsetOf('offcpu_key', 'stack_map'));
    key.writeUInt16LE(0x102, btf.offsetOf('offcpu_key', 'state'));
    expect(btf.sizeOf('offcpu_value')).toBe(offcpu.OFFCPU_VALUE_SIZE);
    key.write('sleeper\0', btf.offsetOf('offcpu_key', 'comm'), 'latin1');
    expect(btf.lengthOf('offcpu_key', 'comm')).toBe(common.TASK_COMM_LEN);
    expect(offcpu.decodeOffcpuKey(key)).toEqual({
      pid: 201, tid: 202, kernelStackId: 203, stackMap: 2, state: 'io', belowMinBlock: true, userStack: 0xabcn, comm: 'sleeper',
    });
    const value = Buffer.alloc(offcpu.OFFCPU_VALUE_SIZE);
    value.writeBigUInt64LE(5n, btf.offsetOf('offcpu_value', 'total_ns'));
    value.writeBigUInt64LE(6n, btf.offsetOf('offcpu_value', 'count'));
    value.writeBigUInt64LE(4n, btf.offsetOf('offcpu_value', 'runnable_ns'));
    value.writeBigUInt64LE(7n, btf.offsetOf('offcpu_value', 'oncpu_ns'));
    expect(offcpu.decodeOffcpuValue(value)).toEqual({ totalNs: 5n, count: 6n, runnableNs: 4n, oncpuNs: 7n });
  });

  it('encodes struct offcpu_config at the compiled offsets', () => {
    expect(btf.sizeOf('offcpu_config')).toBe(offcpu.OFFCPU_CONFIG_SIZE);
    const buf = offcpu.encodeOffcpuConfig({ pids: [21, 22, 23], minBlockNs: 7000n });
    expect(buf.readBigUInt64LE(btf.offsetOf('offcpu_config', 'min_block_ns'))).toBe(7000n);
    expect(buf.readUInt32LE(btf.offsetOf('offcpu_config', 'filter.count'))).toBe(3);
    expect(buf.readUInt32LE(btf.offsetOf('offcpu_config', 'filter.pids') + 8)).toBe(23);
    expect(offcpu.encodeOffcpuConfig({ pids: [], minBlockNs: 0n, unwindTables: true }).readUInt32LE(btf.offsetOf('offcpu_config', 'unwind_tables'))).toBe(1);
    expect(offcpu.encodeOffcpuConfig({ pids: [], minBlockNs: 0n, wall: true }).readUInt32LE(btf.offsetOf('offcpu_config', 'wall'))).toBe(1);
  });

  it('has offcpu.OFFCPU_STACK_MAPS stack maps of OFFCPU_KERNEL_STACK_DEPTH frames and lost counters by enum offcpu_lost_reason', () => {
    for (let i = 0; i < offcpu.OFFCPU_STACK_MAPS; i++) expect(btf.mapNumber(`stacks_${i}`, 'value_size')).toBe(8 * offcpu.OFFCPU_KERNEL_STACK_DEPTH);
    expect(btf.has('VAR', `stacks_${offcpu.OFFCPU_STACK_MAPS}`)).toBe(false);
    expect(btf.mapNumber('lost', 'max_entries')).toBe(offcpu.OFFCPU_LOST_REASONS.length);
  });
});

describe('mirrors of programs/io.h against io.bpf.o', () => {
  const btf = new ProgramBtf('io');

  it('decodes struct io_key and struct io_value at the compiled offsets', () => {
    expect([btf.sizeOf('io_key'), btf.sizeOf('io_value')]).toEqual([io.IO_KEY_SIZE, io.IO_VALUE_SIZE]);
    expect([btf.mapTypeSize('counts_0', 'key'), btf.mapTypeSize('counts_0', 'value')]).toEqual([io.IO_KEY_SIZE, io.IO_VALUE_SIZE]);
    const key = Buffer.alloc(io.IO_KEY_SIZE);
    key.writeUInt32LE(301, btf.offsetOf('io_key', 'pid'));
    key.writeUInt32LE(302, btf.offsetOf('io_key', 'tid'));
    key.writeBigUInt64LE(0x303n, btf.offsetOf('io_key', 'kernel_stack'));
    key.writeUInt32LE(1, btf.offsetOf('io_key', 'stack_map'));
    key.writeBigUInt64LE(0xdefn, btf.offsetOf('io_key', 'user_stack'));
    key.write('dd\0', btf.offsetOf('io_key', 'comm'), 'latin1');
    key.writeUInt32LE(8, btf.offsetOf('io_key', 'major'));
    key.writeUInt32LE(16, btf.offsetOf('io_key', 'minor'));
    key.writeUInt32LE(3, btf.offsetOf('io_key', 'op'));
    expect(btf.lengthOf('io_key', 'comm')).toBe(common.TASK_COMM_LEN);
    expect(io.decodeIoKey(key)).toEqual({
      pid: 301, tid: 302, kernelStack: 0x303n, stackMap: 1, userStack: 0xdefn, comm: 'dd', major: 8, minor: 16, operation: 'discard',
    });
    const value = Buffer.alloc(io.IO_VALUE_SIZE);
    value.writeBigUInt64LE(5n, btf.offsetOf('io_value', 'total_ns'));
    value.writeBigUInt64LE(6n, btf.offsetOf('io_value', 'count'));
    expect(io.decodeIoValue(value)).toEqual({ totalNs: 5n, count: 6n });
  });

  it('encodes struct io_config at the compiled offsets', () => {
    expect(btf.sizeOf('io_config')).toBe(io.IO_CONFIG_SIZE);
    const buf = io.encodeIoConfig({ pids: [31, 32], unwindTables: true, issueRequestArg: 1 });
    expect(buf.readUInt32LE(btf.offsetOf('io_config', 'filter.count'))).toBe(2);
    expect(buf.readUInt32LE(btf.offsetOf('io_config', 'filter.pids') + 4)).toBe(32);
    expect(buf.readUInt32LE(btf.offsetOf('io_config', 'unwind_tables'))).toBe(1);
    expect(buf.readUInt32LE(btf.offsetOf('io_config', 'issue_rq_arg'))).toBe(1);
  });

  it('has io.IO_STACK_MAPS kernel and user stack maps and lost counters by enum io_lost_reason', () => {
    for (let i = 0; i < io.IO_STACK_MAPS; i++) {
      // Kernel stacks are in our own hash maps too, in the user stacks' layout (not a stack-trace map).
      expect(btf.mapTypeSize(`stacks_${i}`, 'value')).toBe(unwind.USER_STACK_SIZE);
      expect(btf.mapTypeSize(`stacks_${i}`, 'key')).toBe(8);
      expect(btf.mapTypeSize(`user_stacks_${i}`, 'value')).toBe(unwind.USER_STACK_SIZE);
    }
    expect(btf.has('VAR', `stacks_${io.IO_STACK_MAPS}`)).toBe(false);
    expect(btf.has('VAR', `user_stacks_${io.IO_STACK_MAPS}`)).toBe(false);
    expect(btf.mapNumber('lost', 'max_entries')).toBe(io.IO_LOST_REASONS.length);
  });
});

describe('mirrors of programs/biolatency.h and programs/log2-hist.h against biolatency.bpf.o', () => {
  const btf = new ProgramBtf('biolatency');

  it('decodes struct bio_hist_key at the compiled offsets', () => {
    expect(btf.sizeOf('bio_hist_key')).toBe(bio.BIO_HIST_KEY_SIZE);
    const key = Buffer.alloc(bio.BIO_HIST_KEY_SIZE);
    key.writeUInt32LE(259, btf.offsetOf('bio_hist_key', 'major'));
    key.writeUInt32LE(3, btf.offsetOf('bio_hist_key', 'minor'));
    key.writeUInt32LE(2, btf.offsetOf('bio_hist_key', 'op'));
    expect(bio.decodeBioHistKey(key)).toEqual({ major: 259, minor: 3, operation: 'flush' });
  });

  it('encodes struct biolatency_config at the compiled offsets', () => {
    expect(btf.sizeOf('biolatency_config')).toBe(bio.BIOLATENCY_CONFIG_SIZE);
    expect(bio.encodeBiolatencyConfig({ issueRequestArg: 1 }).readUInt32LE(btf.offsetOf('biolatency_config', 'issue_rq_arg'))).toBe(1);
  });

  it('sizes the lost counters by enum biolatency_lost_reason', () => {
    expect(btf.mapNumber('lost', 'max_entries')).toBe(bio.BIOLATENCY_LOST_REASONS.length);
  });

  it('decodes struct log2_hist at the compiled offsets', () => {
    expect(btf.sizeOf('log2_hist')).toBe(log2.LOG2_HIST_SIZE);
    expect(btf.lengthOf('log2_hist', 'slots')).toBe(log2.LOG2_HIST_SLOTS);
    expect(btf.mapTypeSize('hists', 'value')).toBe(log2.LOG2_HIST_SIZE);
    const value = Buffer.alloc(log2.LOG2_HIST_SIZE);
    value.writeBigUInt64LE(9n, btf.offsetOf('log2_hist', 'slots') + 8 * (log2.LOG2_HIST_SLOTS - 1));
    value.writeBigUInt64LE(123n, btf.offsetOf('log2_hist', 'sum_ns'));
    const h = log2.decodePerCpuLog2Hist(value);
    expect(h.slots[log2.LOG2_HIST_SLOTS - 1]).toBe(9n);
    expect(h.sumNs).toBe(123n);
  });
});

describe('mirror of programs/runqlat.h against runqlat.bpf.o', () => {
  it('has a u32 key and a struct log2_hist value', () => {
    const btf = new ProgramBtf('runqlat');
    expect(btf.mapTypeSize('hist', 'key')).toBe(runqlat.RUNQLAT_HIST_KEY_SIZE);
    expect(btf.mapTypeSize('hist', 'value')).toBe(log2.LOG2_HIST_SIZE);
    expect(btf.mapNumber('hist', 'max_entries')).toBe(1);
  });

  it('sizes the lost counters by enum runqlat_lost_reason', () => {
    const btf = new ProgramBtf('runqlat');
    expect(btf.mapNumber('lost', 'max_entries')).toBe(runqlat.RUNQLAT_LOST_REASONS.length);
  });
});
