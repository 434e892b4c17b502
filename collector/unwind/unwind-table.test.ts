import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseDebugFrame, parseEhFrame, type CfiSection } from './eh-frame.js';
import { CfaRule, RbpRule, UNWIND_ROW_SIZE, findUnwindRow, readUnwindRow, writeUnwindRow } from './rows.js';
import { CfiBuilder, le, pcrel4, sleb } from './test-support/cfi-builder.js';
import { buildUnwindRows, buildUnwindTable, type UnwindTable } from './unwind-table.js';

const VADDR = 0x2000;
const PLT1 = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22];
const PLT2 = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22];

type Row = [pc: number, cfa: number, cfaOffset: number, rbp?: number, rbpOffset?: number];

function rowsOf(t: UnwindTable): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < t.count; i++) {
    const r = readUnwindRow(t.rows, i);
    out.push(r.rbpRule === 0 && r.rbpOffset === 0 ? [Number(r.pc), r.cfaRule, r.cfaOffset] : [Number(r.pc), r.cfaRule, r.cfaOffset, r.rbpRule, r.rbpOffset]);
  }
  return out;
}

/** An .eh_frame with the usual CIE and one FDE per [begin, size, instructions]. */
function ehFrame(fdes: Array<[begin: number, size: number, instructions: number[]]>, cieInstructions?: number[]): CfiSection {
  const b = new CfiBuilder('eh_frame');
  const cie = b.cie(cieInstructions ? { instructions: cieInstructions } : {});
  for (const [begin, size, instructions] of fdes) b.fde({ cie, address: pcrel4(begin, VADDR), range: le(size, 4), augmentationData: [], instructions });
  b.raw([0, 0, 0, 0]);
  return parseEhFrame(b.buffer(), { vaddr: VADDR });
}

const { NONE, RSP, RBP, END } = CfaRule;

describe('rows', () => {
  it('lays out struct unwind_row: u64 pc, s32 cfa_offset, s16 rbp_offset, u8 cfa_rule, u8 rbp_rule', () => {
    const buf = Buffer.alloc(2 * UNWIND_ROW_SIZE);
    writeUnwindRow(buf, 1, 0x1_2345_6789, CfaRule.RBP, -24, RbpRule.CFA_OFFSET, -16);
    expect(buf.subarray(16).toString('hex')).toBe('8967452301000000' + 'e8ffffff' + 'f0ff' + '02' + '01');
    expect(readUnwindRow(buf, 1)).toEqual({ pc: 0x1_2345_6789n, cfaRule: 2, cfaOffset: -24, rbpRule: 1, rbpOffset: -16 });
  });

  it('finds the last row at or below a pc', () => {
    const buf = Buffer.alloc(3 * UNWIND_ROW_SIZE);
    [0x10, 0x20, 0x30].forEach((pc, i) => writeUnwindRow(buf, i, pc, RSP, 8, 0, 0));
    expect([0x0f, 0x10, 0x1f, 0x20, 0x30, 0x1000].map((pc) => findUnwindRow(buf, 3, pc))).toEqual([-1, 0, 0, 1, 2, 2]);
    expect(findUnwindRow(buf, 3, 0x25n)).toBe(1);
    expect(findUnwindRow(buf, 0, 0x25)).toBe(-1);
  });
});

describe('buildUnwindRows', () => {
  it('gives one row per rule change, merges rows that change nothing, and closes each FDE', () => {
    const t = buildUnwindRows(
      ehFrame([
        // push rbp; mov rbp,rsp; ... ; pop rbp; ret  — and a row where only rbx changes (merged away)
        [0x1000, 0x20, [0x41, 0x0e, 16, 0x80 | 6, 2, 0x43, 0x0d, 6, 0x41, 0x80 | 3, 3, 0x50 | 0, 0x0c, 7, 8]],
        // Starts where the previous one ends: no CFA_NONE between them.
        [0x1020, 0x10, [0x44, 0x0e, 16]],
        [0x1040, 0x10, []],
      ]),
    );
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 8],
      [0x1001, RSP, 16, 1, -16],
      [0x1004, RBP, 16, 1, -16],
      [0x1015, RSP, 8, 1, -16],
      [0x1020, RSP, 8],
      [0x1024, RSP, 16],
      [0x1030, NONE, 0],
      [0x1040, RSP, 8],
      [0x1050, NONE, 0],
    ]);
    expect(t.stats).toMatchObject({ fdes: 3, fdesUsed: 3, rows: 9, bytes: 9 * 16, rowsBeforeMerge: 8, unsupportedCfa: 0, source: 'eh_frame' });
  });

  it('merges an FDE that starts where another ends with the same rule', () => {
    const t = buildUnwindRows(ehFrame([
      [0x1000, 0x10, []],
      [0x1010, 0x10, []],
    ]));
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 8],
      [0x1020, NONE, 0],
    ]);
  });

  it('resolves overlapping and duplicate FDEs deterministically: the lowest start, then the first in the section', () => {
    const t = buildUnwindRows(ehFrame([
      [0x1000, 0x20, [0x0e, 16]],
      [0x1000, 0x20, [0x0e, 32]], // duplicate: dropped
      [0x1010, 0x20, [0x0e, 48]], // overlaps: dropped
      [0x1020, 0x0, []], // empty
      [0x0f00, 0x10, [0x0e, 24]], // earlier address, later in the section: first in the table
    ]));
    expect(rowsOf(t)).toEqual([
      [0x0f00, RSP, 24],
      [0x0f10, NONE, 0],
      [0x1000, RSP, 16],
      [0x1020, NONE, 0],
    ]);
    expect(t.stats).toMatchObject({ fdes: 5, fdesUsed: 2, fdesOverlapping: 2, fdesEmpty: 1 });
  });

  it('recognises the two .plt expressions byte for byte and nothing else', () => {
    const near = [...PLT1];
    near[1] = 0x10; // breg7 16
    const t = buildUnwindRows(ehFrame([
      [0x1000, 0x40, [0x0e, 16, 0x46, 0x0e, 24, 0x4a, 0x0f, PLT1.length, ...PLT1]],
      [0x2000, 0x10, [0x0f, PLT2.length, ...PLT2]],
      [0x3000, 0x10, [0x0f, near.length, ...near]],
      [0x4000, 0x10, [0x0f, 3, 0x77, 0x08, 0x06]],
    ]));
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 16],
      [0x1006, RSP, 24],
      [0x1010, CfaRule.PLT1, 8],
      [0x1040, NONE, 0],
      [0x2000, CfaRule.PLT2, 8],
      [0x2010, NONE, 0],
    ]);
    expect(t.stats.pltRows).toBe(2);
    expect(t.stats.unsupported.cfaExpression).toBe(2);
    expect(t.stats.unsupportedCfa).toBe(2);
  });

  it('ends the walk where the return address is undefined', () => {
    const t = buildUnwindRows(ehFrame([[0x1000, 0x10, [0x07, 16]]]));
    expect(rowsOf(t)).toEqual([
      [0x1000, END, 0],
      [0x1010, NONE, 0],
    ]);
    expect(t.stats.endRows).toBe(1);
  });

  it('marks rules it cannot express as CFA_NONE or RBP_UNSUPPORTED and counts them', () => {
    const t = buildUnwindRows(ehFrame([
      [0x1000, 0x10, [0x0d, 10]], // CFA = r10 + 8
      [0x2000, 0x10, [0x0e, ...[0x80, 0x80, 0x80, 0x80, 0x10]]], // CFA offset 2^32
      [0x3000, 0x10, [0x0c, 7, 16, 0x80 | 16, 2]], // return address at CFA-16
      [0x4000, 0x10, [0x09, 16, 0]], // return address in rax
      [0x5000, 0x10, [0x09, 6, 3]], // rbp in rbx
      [0x6000, 0x10, [0x80 | 6, ...[0x80, 0x80, 0x01]]], // rbp at CFA - 2^14 × 8: outside s16
      [0x7000, 0x10, [0x10, 6, 2, 0x77, 0]], // rbp by expression
      [0x8000, 0x10, [0x14, 6, 2]], // rbp = CFA-16 (val_offset)
      [0x9000, 0x10, [0x07, 6]], // rbp undefined
    ]));
    const at = (pc: number) => {
      const r = readUnwindRow(t.rows, findUnwindRow(t.rows, t.count, pc));
      return [pc, r.cfaRule, r.rbpRule];
    };
    expect([0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000].map(at)).toEqual([
      [0x1000, NONE, 0],
      [0x2000, NONE, 0],
      [0x3000, NONE, 0],
      [0x4000, NONE, 0],
      [0x5000, RSP, RbpRule.UNSUPPORTED],
      [0x6000, RSP, RbpRule.UNSUPPORTED],
      [0x7000, RSP, RbpRule.UNSUPPORTED],
      [0x8000, RSP, RbpRule.UNSUPPORTED],
      [0x9000, RSP, RbpRule.UNSUPPORTED],
    ]);
    expect(t.stats.unsupported).toMatchObject({ cfaRegister: 1, cfaOffset: 1, returnAddress: 2, rbpRule: 4, rbpOffset: 1 });
    expect(t.stats.unsupportedCfa).toBe(4);
    expect(t.stats.unsupportedRbp).toBe(5);
  });

  it('keeps the rows before a broken program and marks the rest CFA_NONE', () => {
    const t = buildUnwindRows(ehFrame([[0x1000, 0x20, [0x0e, 16, 0x44, 0x0e, 24, 0x44, 0x1c]]]));
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 16],
      [0x1004, RSP, 24],
      [0x1008, NONE, 0],
    ]);
    expect(t.stats.programErrors.bad_opcode).toBe(1);
  });

  it('keeps only FDEs inside the code ranges it is given', () => {
    const t = buildUnwindRows(ehFrame([
      [0x1000, 0x10, []],
      [0x1ff8, 0x10, []],
      [0x5000, 0x10, []],
    ]), { codeRanges: [[0x1000, 0x2000]] });
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 8],
      [0x1010, NONE, 0],
    ]);
    expect(t.stats.fdesOutsideCode).toBe(2);
  });

  it('stops at maxRows after a whole FDE and still ends the table with CFA_NONE', () => {
    const fdes: Array<[number, number, number[]]> = [];
    for (let i = 0; i < 50; i++) fdes.push([0x1000 + i * 0x100, 0x40, [0x41, 0x0e, 16, 0x41, 0x0e, 24]]);
    const t = buildUnwindRows(ehFrame(fdes), { maxRows: 10 });
    expect(t.stats.rowLimitReached).toBe(true);
    expect(t.count).toBeLessThanOrEqual(10);
    const rows = rowsOf(t);
    expect(rows[rows.length - 1][1]).toBe(NONE);
    // Whole FDEs only: each kept FDE has its 3 rules and its end.
    expect(rows).toEqual([
      [0x1000, RSP, 8],
      [0x1001, RSP, 16],
      [0x1002, RSP, 24],
      [0x1040, NONE, 0],
      [0x1100, RSP, 8],
      [0x1101, RSP, 16],
      [0x1102, RSP, 24],
      [0x1140, NONE, 0],
    ]);
  });

  it('combines .eh_frame and .debug_frame with .eh_frame first', () => {
    const eh = ehFrame([[0x1000, 0x10, [0x0e, 16]]]);
    const b = new CfiBuilder('debug_frame');
    const cie = b.cie({ version: 3, dataAlign: -4, instructions: [0x0c, 7, 8, 0x90, 2] });
    b.fde({ cie, address: () => le(0x1000, 8), range: le(0x10, 8), instructions: [0x13, ...sleb(-8)] });
    b.fde({ cie, address: () => le(0x1010, 8), range: le(0x10, 8), instructions: [0x13, ...sleb(-10)] });
    const dbg = parseDebugFrame(b.buffer());
    const t = buildUnwindRows([eh, dbg]);
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 16],
      [0x1010, RSP, 40],
      [0x1020, NONE, 0],
    ]);
    expect(t.stats).toMatchObject({ source: 'eh_frame+debug_frame', fdesUsedEhFrame: 1, fdesUsedDebugFrame: 1, fdesOverlapping: 1 });
  });
});

/** A minimal ELF64 x86-64 executable: one R+X PT_LOAD at 0x1000 and the given sections after the headers. */
function elfWith(sections: Array<{ name: string; data: Buffer; addr?: number; flags?: bigint }>, machine = 62): Buffer {
  const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
  const shstr = Buffer.from(names.join('\0') + '\0', 'latin1');
  const nameOff = (i: number) => names.slice(0, i).reduce((n, s) => n + s.length + 1, 0);
  let off = 64 + 56;
  const placed = sections.map((s) => {
    const at = off;
    off += s.data.length;
    return at;
  });
  const shstrOff = off;
  off += shstr.length;
  off = (off + 7) & ~7;
  const shoff = off;
  const shnum = sections.length + 2;
  const buf = Buffer.alloc(shoff + shnum * 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2;
  buf[5] = 1;
  buf[6] = 1;
  buf.writeUInt16LE(2, 16);
  buf.writeUInt16LE(machine, 18);
  buf.writeBigUInt64LE(64n, 32);
  buf.writeBigUInt64LE(BigInt(shoff), 40);
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(1, 56);
  buf.writeUInt16LE(64, 58);
  buf.writeUInt16LE(shnum, 60);
  buf.writeUInt16LE(shnum - 1, 62);
  // PT_LOAD R+X covering [0x1000, 0x100000).
  buf.writeUInt32LE(1, 64);
  buf.writeUInt32LE(5, 68);
  buf.writeBigUInt64LE(0x1000n, 64 + 16);
  buf.writeBigUInt64LE(0xff000n, 64 + 32);
  buf.writeBigUInt64LE(0xff000n, 64 + 40);
  sections.forEach((s, i) => s.data.copy(buf, placed[i]));
  shstr.copy(buf, shstrOff);
  const sh = (i: number, name: number, type: number, flags: bigint, addr: number, offset: number, size: number) => {
    const o = shoff + i * 64;
    buf.writeUInt32LE(name, o);
    buf.writeUInt32LE(type, o + 4);
    buf.writeBigUInt64LE(flags, o + 8);
    buf.writeBigUInt64LE(BigInt(addr), o + 16);
    buf.writeBigUInt64LE(BigInt(offset), o + 24);
    buf.writeBigUInt64LE(BigInt(size), o + 32);
  };
  sections.forEach((s, i) => sh(i + 1, nameOff(i + 1), 1, s.flags ?? 2n, s.addr ?? 0, placed[i], s.data.length));
  sh(shnum - 1, nameOff(shnum - 1), 3, 0n, 0, shstrOff, shstr.length);
  return buf;
}

function debugFrameBytes(): Buffer {
  const b = new CfiBuilder('debug_frame');
  const cie = b.cie({ version: 3, dataAlign: -4, instructions: [0x0c, 7, 8, 0x90, 2] });
  b.fde({ cie, address: () => le(0x1000, 8), range: le(0x10, 8), instructions: [0x13, ...sleb(-8)] });
  return b.buffer();
}

function chdr(type: number, size: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(type, 0);
  h.writeBigUInt64LE(BigInt(size), 8);
  h.writeBigUInt64LE(8n, 16);
  return Buffer.concat([h, payload]);
}

describe('buildUnwindTable: sections of an ELF file', () => {
  it('uses .eh_frame at its address (pcrel)', () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie();
    b.fde({ cie, address: pcrel4(0x1000, 0x5000), range: le(0x10, 4), augmentationData: [], instructions: [0x0e, 16] });
    const t = buildUnwindTable(elfWith([{ name: '.eh_frame', data: b.buffer(), addr: 0x5000 }]));
    expect(t.error).toBeUndefined();
    expect(t.source).toBe('eh_frame');
    expect(rowsOf(t)).toEqual([
      [0x1000, RSP, 16],
      [0x1010, NONE, 0],
    ]);
  });

  it('reads a plain, an SHF_COMPRESSED (zlib) and a .zdebug_frame .debug_frame', () => {
    const raw = debugFrameBytes();
    const plain = buildUnwindTable(elfWith([{ name: '.debug_frame', data: raw, flags: 0n }]));
    const compressed = buildUnwindTable(elfWith([{ name: '.debug_frame', data: chdr(1, raw.length, zlib.deflateSync(raw)), flags: 0x800n }]));
    const zhead = Buffer.alloc(12);
    zhead.write('ZLIB', 0, 'latin1');
    zhead.writeBigUInt64BE(BigInt(raw.length), 4);
    const gnu = buildUnwindTable(elfWith([{ name: '.zdebug_frame', data: Buffer.concat([zhead, zlib.deflateSync(raw)]), flags: 0n }]));
    for (const t of [plain, compressed, gnu]) {
      expect(t.error).toBeUndefined();
      expect(t.source).toBe('debug_frame');
      expect(rowsOf(t)).toEqual([
        [0x1000, RSP, 32],
        [0x1010, NONE, 0],
      ]);
    }
    expect(plain.stats.compressed).toBe(false);
    expect(compressed.stats.compressed).toBe(true);
    expect(gnu.stats.compressed).toBe(true);
  });

  it('refuses compressed sections that lie about their size or exceed the cap, without throwing', () => {
    const raw = debugFrameBytes();
    const lies = buildUnwindTable(elfWith([{ name: '.debug_frame', data: chdr(1, raw.length - 1, zlib.deflateSync(raw)), flags: 0x800n }]));
    expect(lies.error).toMatch(/decompress \.debug_frame/);
    const bomb = Buffer.alloc(1 << 20);
    const capped = buildUnwindTable(elfWith([{ name: '.debug_frame', data: chdr(1, bomb.length, zlib.deflateSync(bomb)), flags: 0x800n }]), {
      maxSectionBytes: 1 << 16,
    });
    expect(capped.error).toMatch(/exceeds limit/);
    const garbage = buildUnwindTable(elfWith([{ name: '.debug_frame', data: chdr(1, 100, Buffer.from('not zlib')), flags: 0x800n }]));
    expect(garbage.error).toMatch(/decompress/);
    const unknown = buildUnwindTable(elfWith([{ name: '.debug_frame', data: chdr(9, 100, Buffer.alloc(8)), flags: 0x800n }]));
    expect(unknown.error).toMatch(/unknown compression type 9/);
  });

  it('keeps .eh_frame when .debug_frame is unreadable, with a warning', () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie();
    b.fde({ cie, address: pcrel4(0x1000, 0x5000), range: le(0x10, 4), augmentationData: [] });
    const t = buildUnwindTable(
      elfWith([
        { name: '.eh_frame', data: b.buffer(), addr: 0x5000 },
        { name: '.debug_frame', data: chdr(1, 100, Buffer.from('not zlib')), flags: 0x800n },
      ]),
    );
    expect(t.error).toBeUndefined();
    expect(t.count).toBe(2);
    expect(t.warnings?.[0]).toMatch(/decompress \.debug_frame/);
  });

  it('says why there is no table: not ELF, not x86-64, no CFI section', () => {
    expect(buildUnwindTable(Buffer.from('hello')).error).toMatch(/parse ELF/);
    expect(buildUnwindTable(elfWith([{ name: '.eh_frame', data: Buffer.alloc(8) }], 183)).error).toMatch(/machine 183/);
    expect(buildUnwindTable(elfWith([{ name: '.text', data: Buffer.alloc(8) }])).error).toMatch(/no \.eh_frame or \.debug_frame/);
    const throwing = { size: 1 << 20, read: () => { throw new Error('EIO'); } };
    expect(buildUnwindTable(throwing).error).toMatch(/EIO/);
  });
});
