import { describe, expect, it } from 'vitest';
import {
  CfaEvaluator,
  CfaKind,
  DW_EH_PE,
  RegRule,
  cfiErrorTotal,
  fdeAt,
  parseDebugFrame,
  parseEhFrame,
  type CfaState,
  type CfiSection,
} from './eh-frame.js';
import { CfiBuilder, le, pcrel4, sleb, uleb } from './test-support/cfi-builder.js';

const VADDR = 0x2000;

interface SnapRow {
  loc: number;
  cfa: string;
  rbp: string;
  ra: string;
  rbx: string;
}

function describeRule(s: CfaState, reg: number): string {
  switch (s.rule(reg)) {
    case RegRule.UNSET:
      return '-';
    case RegRule.UNDEFINED:
      return 'u';
    case RegRule.SAME_VALUE:
      return 's';
    case RegRule.OFFSET:
      return `c${s.ruleValue(reg)}`;
    case RegRule.VAL_OFFSET:
      return `v${s.ruleValue(reg)}`;
    case RegRule.REGISTER:
      return `r${s.ruleValue(reg)}`;
    case RegRule.EXPRESSION:
      return `exp${s.ruleExpressionLength(reg)}`;
    case RegRule.VAL_EXPRESSION:
      return `vexp${s.ruleExpressionLength(reg)}`;
    default:
      return '?';
  }
}

/** Every row of FDE `i` in readelf-like notation. */
function rowsOf(section: CfiSection, i = 0): { rows: SnapRow[]; error?: string; errorLoc: number } {
  const rows: SnapRow[] = [];
  const r = new CfaEvaluator(section).evaluate(i, (loc, s) => {
    const cfa =
      s.cfaKind === CfaKind.REG_OFFSET
        ? `r${s.cfaRegister}${s.cfaOffset >= 0 ? '+' : ''}${s.cfaOffset}`
        : s.cfaKind === CfaKind.EXPRESSION
          ? `exp${s.cfaExpressionLength}`
          : '-';
    rows.push({ loc, cfa, rbp: describeRule(s, 6), ra: describeRule(s, 16), rbx: describeRule(s, 3) });
  });
  return { rows, error: r.error, errorLoc: r.errorLoc };
}

/** A one-FDE .eh_frame with the usual CIE (zR, pcrel|sdata4, def_cfa rsp+8, ra at cfa-8). */
function oneFde(instructions: number[], opts: { codeAlign?: number; dataAlign?: number; begin?: number; size?: number } = {}): CfiSection {
  const b = new CfiBuilder('eh_frame');
  const cie = b.cie({ codeAlign: opts.codeAlign, dataAlign: opts.dataAlign });
  b.fde({ cie, address: pcrel4(opts.begin ?? 0x1000, VADDR), range: le(opts.size ?? 0x100, 4), augmentationData: [], instructions });
  b.raw([0, 0, 0, 0]);
  return parseEhFrame(b.buffer(), { vaddr: VADDR });
}

describe('parseEhFrame: entries', () => {
  it('reads a CIE and FDEs with pcrel|sdata4 addresses up to the zero terminator', () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie();
    b.fde({ cie, address: pcrel4(0x1000, VADDR), range: le(0x20, 4), augmentationData: [] });
    b.fde({ cie, address: pcrel4(0x1020, VADDR), range: le(0x10, 4), augmentationData: [] });
    b.raw([0, 0, 0, 0]);
    // After the terminator nothing is read.
    b.raw([0xff, 0xff, 0xff, 0xf5, 1, 2, 3]);
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(s.cies).toHaveLength(1);
    expect(s.cies[0]).toMatchObject({ version: 1, augmentation: 'zR', codeAlign: 1, dataAlign: -8, raRegister: 16, fdeEncoding: 0x1b });
    expect(s.fdeCount).toBe(2);
    expect(fdeAt(s, 0)).toMatchObject({ cie: 0, pcBegin: 0x1000, pcEnd: 0x1020 });
    expect(fdeAt(s, 1)).toMatchObject({ pcBegin: 0x1020, pcEnd: 0x1030 });
    expect(s.terminated).toBe(true);
    expect(cfiErrorTotal(s.errors)).toBe(0);
  });

  it('reads every pointer format, with and without a base', () => {
    const cases: Array<{ enc: number; bytes: (pos: number) => number[]; want: number; opts?: object }> = [
      { enc: DW_EH_PE.absptr, bytes: () => le(0x401000, 8), want: 0x401000 },
      { enc: DW_EH_PE.udata2, bytes: () => le(0x1234, 2), want: 0x1234 },
      { enc: DW_EH_PE.udata4, bytes: () => le(0x12345678, 4), want: 0x12345678 },
      { enc: DW_EH_PE.udata8, bytes: () => le(0x1_0000_1000n, 8), want: 0x1_0000_1000 },
      { enc: DW_EH_PE.uleb128, bytes: () => uleb(0x401000), want: 0x401000 },
      { enc: DW_EH_PE.sleb128, bytes: () => sleb(0x401000), want: 0x401000 },
      { enc: DW_EH_PE.sdata2, bytes: () => le(0x7000, 2), want: 0x7000 },
      { enc: DW_EH_PE.sdata8, bytes: () => le(0x401000, 8), want: 0x401000 },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.sdata4, bytes: (pos) => le(0x1000 - (VADDR + pos), 4), want: 0x1000 },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.sdata2, bytes: (pos) => le(0x1000 - (VADDR + pos), 2), want: 0x1000 },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.sleb128, bytes: (pos) => sleb(0x1000 - (VADDR + pos)), want: 0x1000 },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.sdata8, bytes: (pos) => le(0x5000 - (VADDR + pos), 8), want: 0x5000 },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.udata4, bytes: (pos) => le(0x5000 - (VADDR + pos), 4), want: 0x5000 },
      { enc: DW_EH_PE.textrel | DW_EH_PE.udata4, bytes: () => le(0x30, 4), want: 0x1030, opts: { textVaddr: 0x1000 } },
      { enc: DW_EH_PE.datarel | DW_EH_PE.sdata4, bytes: () => le(-0x10, 4), want: 0x3ff0, opts: { dataVaddr: 0x4000 } },
    ];
    for (const c of cases) {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie({ augmentationData: [c.enc] });
      // pc_range uses the format only (no base).
      const rangeFormat = c.enc & 0x0f;
      const range =
        rangeFormat === DW_EH_PE.uleb128
          ? uleb(0x40)
          : rangeFormat === DW_EH_PE.sleb128
            ? sleb(0x40)
            : le(0x40, { 0: 8, 2: 2, 3: 4, 4: 8, 0xa: 2, 0xb: 4, 0xc: 8 }[rangeFormat] ?? 4);
      b.fde({ cie, address: c.bytes, range, augmentationData: [] });
      const s = parseEhFrame(b.buffer(), { vaddr: VADDR, ...c.opts });
      expect(cfiErrorTotal(s.errors), `encoding 0x${c.enc.toString(16)}`).toBe(0);
      expect(s.fdeCount, `encoding 0x${c.enc.toString(16)}`).toBe(1);
      expect(fdeAt(s, 0).pcBegin, `encoding 0x${c.enc.toString(16)}`).toBe(c.want);
      expect(fdeAt(s, 0).pcEnd, `encoding 0x${c.enc.toString(16)}`).toBe(c.want + 0x40);
    }
  });

  it('counts addresses it cannot resolve: indirect, a missing base, an unknown format, omit, a wrap below 0', () => {
    const bad: Array<{ enc: number; bytes: number[] }> = [
      { enc: DW_EH_PE.indirect | DW_EH_PE.pcrel | DW_EH_PE.sdata4, bytes: le(0, 4) },
      { enc: DW_EH_PE.datarel | DW_EH_PE.sdata4, bytes: le(0, 4) },
      { enc: DW_EH_PE.textrel | DW_EH_PE.sdata4, bytes: le(0, 4) },
      { enc: DW_EH_PE.funcrel | DW_EH_PE.sdata4, bytes: le(0, 4) },
      { enc: 0x0f, bytes: le(0, 4) },
      { enc: DW_EH_PE.omit, bytes: le(0, 4) },
      { enc: DW_EH_PE.pcrel | DW_EH_PE.sdata4, bytes: le(-0x100000, 4) },
    ];
    for (const c of bad) {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie({ augmentationData: [c.enc] });
      b.fde({ cie, address: () => c.bytes, range: le(0x40, 4), augmentationData: [] });
      const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
      expect(s.fdeCount, `encoding 0x${c.enc.toString(16)}`).toBe(0);
      expect(s.errors.badPointer, `encoding 0x${c.enc.toString(16)}`).toBe(1);
    }
  });

  it('reads an aligned absolute pointer', () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie({ augmentationData: [DW_EH_PE.aligned] });
    // FDE body starts at an offset ≡ 0 mod 4: the aligned pointer skips to the next multiple of 8.
    b.fde({
      cie,
      address: (pos) => [...new Array((8 - (pos % 8)) % 8).fill(0), ...le(0x7000, 8)],
      range: le(0x10, 8),
      augmentationData: [],
    });
    const s = parseEhFrame(b.buffer(), { vaddr: 0 });
    expect(s.errors.badPointer).toBe(0);
    expect(fdeAt(s, 0)).toMatchObject({ pcBegin: 0x7000, pcEnd: 0x7010 });
  });

  it('skips the personality (even indirect) and the LSDA of zPLR, and marks S frames', () => {
    const b = new CfiBuilder('eh_frame');
    const personality = [DW_EH_PE.indirect | DW_EH_PE.pcrel | DW_EH_PE.sdata4, ...le(0x1234, 4)];
    const cie = b.cie({ augmentation: 'zPLRS', augmentationData: [...personality, 0x1b, 0x1b] });
    b.fde({ cie, address: pcrel4(0x1000, VADDR), range: le(0x30, 4), augmentationData: le(0x99, 4), instructions: [0x0e, 16] });
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(cfiErrorTotal(s.errors)).toBe(0);
    expect(s.cies[0]).toMatchObject({ augmentation: 'zPLRS', fdeEncoding: 0x1b, lsdaEncoding: 0x1b, signalFrame: true, hasAugmentationData: true });
    expect(fdeAt(s, 0)).toMatchObject({ pcBegin: 0x1000, pcEnd: 0x1030 });
    expect(rowsOf(s).rows).toEqual([{ loc: 0x1000, cfa: 'r7+16', rbp: '-', ra: 'c-8', rbx: '-' }]);
  });

  it("reads the pre-'z' \"eh\" augmentation (an 8-byte pointer after the string)", () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie({ augmentation: 'eh', afterAugmentation: le(0xdeadbeef, 8) });
    b.fde({ cie, address: () => le(0x1000, 8), range: le(0x10, 8) });
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(cfiErrorTotal(s.errors)).toBe(0);
    expect(s.cies[0]).toMatchObject({ augmentation: 'eh', fdeEncoding: DW_EH_PE.absptr, raRegister: 16 });
    expect(fdeAt(s, 0)).toMatchObject({ pcBegin: 0x1000, pcEnd: 0x1010 });
    expect(rowsOf(s).rows[0]).toMatchObject({ cfa: 'r7+8', ra: 'c-8' });
  });

  it('skips augmentation data it does not know when the CIE has z, and refuses the CIE otherwise', () => {
    const b = new CfiBuilder('eh_frame');
    const known = b.cie({ augmentation: 'zRXY', augmentationData: [0x1b, 7, 7, 7] });
    const unknown = b.cie({ augmentation: 'Q' });
    b.fde({ cie: known, address: pcrel4(0x1000, VADDR), range: le(0x10, 4), augmentationData: [] });
    b.fde({ cie: unknown, address: pcrel4(0x2000, VADDR), range: le(0x10, 4) });
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(s.fdeCount).toBe(1);
    expect(fdeAt(s, 0).pcBegin).toBe(0x1000);
    expect(s.errors.unsupportedAugmentation).toBe(1);
    expect(s.errors.badCiePointer).toBe(1);
  });

  it('reads 64-bit lengths in .eh_frame (4-byte CIE pointer) and .debug_frame (8-byte CIE id and pointer)', () => {
    const eh = new CfiBuilder('eh_frame');
    const cie = eh.cie({ is64: true });
    eh.fde({ cie, is64: true, address: pcrel4(0x1000, VADDR), range: le(0x10, 4), augmentationData: [], instructions: [0x0e, 32] });
    const s = parseEhFrame(eh.buffer(), { vaddr: VADDR });
    expect(cfiErrorTotal(s.errors)).toBe(0);
    expect(fdeAt(s, 0)).toMatchObject({ pcBegin: 0x1000, pcEnd: 0x1010 });
    expect(rowsOf(s).rows[0].cfa).toBe('r7+32');

    const dbg = new CfiBuilder('debug_frame');
    const dcie = dbg.cie({ is64: true, version: 3, dataAlign: -4 });
    dbg.fde({ cie: dcie, is64: true, address: () => le(0x401000, 8), range: le(0x20, 8), instructions: [0x13, ...sleb(-6)] });
    const d = parseDebugFrame(dbg.buffer());
    expect(cfiErrorTotal(d.errors)).toBe(0);
    expect(fdeAt(d, 0)).toMatchObject({ pcBegin: 0x401000, pcEnd: 0x401020 });
    // def_cfa_offset_sf is factored: -6 * -4 = 24.
    expect(rowsOf(d).rows[0].cfa).toBe('r7+24');
  });

  it('reads .debug_frame CIE versions 1, 3 and 4 (address and segment selector sizes)', () => {
    const b = new CfiBuilder('debug_frame');
    const v1 = b.cie({ version: 1, ra: 16 });
    const v3 = b.cie({ version: 3, ra: 16 });
    const v4 = b.cie({ version: 4, afterAugmentation: [4, 2], ra: 16 });
    b.fde({ cie: v1, address: () => le(0x1000, 8), range: le(0x10, 8) });
    b.fde({ cie: v3, address: () => le(0x2000, 8), range: le(0x10, 8) });
    b.fde({ cie: v4, segment: [0, 0], address: () => le(0x3000, 4), range: le(0x10, 4), instructions: [0x0e, 24] });
    const s = parseDebugFrame(b.buffer());
    expect(cfiErrorTotal(s.errors)).toBe(0);
    expect(s.cies.map((c) => [c.version, c.addressSize, c.segmentSize])).toEqual([
      [1, 8, 0],
      [3, 8, 0],
      [4, 4, 2],
    ]);
    expect([0, 1, 2].map((i) => fdeAt(s, i).pcBegin)).toEqual([0x1000, 0x2000, 0x3000]);
    expect(rowsOf(s, 2).rows[0].cfa).toBe('r7+24');
  });

  it('skips zero-length .debug_frame entries and stops at a truncated or reserved length', () => {
    const b = new CfiBuilder('debug_frame');
    const cie = b.cie();
    b.raw([0, 0, 0, 0]);
    b.fde({ cie, address: () => le(0x1000, 8), range: le(0x10, 8) });
    const s = parseDebugFrame(b.buffer());
    expect(s.errors.zeroEntries).toBe(1);
    expect(s.fdeCount).toBe(1);

    const cut = parseDebugFrame(b.buffer().subarray(0, b.bytes.length - 3));
    expect(cut.errors.truncated).toBe(1);
    expect(cut.fdeCount).toBe(0);

    const reserved = Buffer.concat([b.buffer(), Buffer.from([0xf0, 0xff, 0xff, 0xff, 0, 0, 0, 0])]);
    const r = parseDebugFrame(reserved);
    expect(r.errors.badLength).toBe(1);
    expect(r.fdeCount).toBe(1);
  });

  it('counts FDEs whose CIE pointer leads nowhere, and CIEs of unknown versions', () => {
    const b = new CfiBuilder('eh_frame');
    const bad = b.cie({ version: 2 });
    const cie = b.cie();
    b.fde({ cie: bad, address: pcrel4(0x1000, VADDR), range: le(0x10, 4), augmentationData: [] });
    b.fde({ cie: -1000, address: pcrel4(0x1000, VADDR), range: le(0x10, 4), augmentationData: [] });
    // Pointing at an FDE instead of a CIE.
    const fde = b.fde({ cie, address: pcrel4(0x2000, VADDR), range: le(0x10, 4), augmentationData: [] });
    b.fde({ cie: fde, address: pcrel4(0x3000, VADDR), range: le(0x10, 4), augmentationData: [] });
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(s.fdeCount).toBe(1);
    expect(s.errors.badCie).toBe(1);
    expect(s.errors.badCiePointer).toBe(3);
  });

  it('caps FDEs and CIEs', () => {
    const b = new CfiBuilder('eh_frame');
    for (let i = 0; i < 5; i++) {
      const cie = b.cie();
      b.fde({ cie, address: pcrel4(0x1000 + i * 0x10, VADDR), range: le(0x10, 4), augmentationData: [] });
    }
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR, maxFdes: 2, maxCies: 4 });
    expect(s.fdeCount).toBe(2);
    expect(s.errors.fdeLimit).toBe(2);
    expect(s.errors.cieLimit).toBe(1);
  });
});

describe('CfaEvaluator: the CFA program', () => {
  it('applies the code alignment factor to every advance', () => {
    const s = oneFde(
      [
        0x40 | 1, // advance_loc 1 (×4)
        0x0e, 16,
        0x02, 2, // advance_loc1 2
        0x0e, 24,
        0x03, ...le(3, 2), // advance_loc2 3
        0x0e, 32,
        0x04, ...le(4, 4), // advance_loc4 4
        0x0e, 40,
        0x1d, ...le(5, 8), // MIPS_advance_loc8 5
        0x0e, 48,
      ],
      { codeAlign: 4, size: 0x1000 },
    );
    expect(rowsOf(s).rows.map((r) => [r.loc - 0x1000, r.cfa])).toEqual([
      [0, 'r7+8'],
      [4, 'r7+16'],
      [12, 'r7+24'],
      [24, 'r7+32'],
      [40, 'r7+40'],
      [60, 'r7+48'],
    ]);
  });

  it('moves with set_loc (encoded like the FDE address) and rejects going backwards', () => {
    // [def_cfa_offset 16, set_loc target, def_cfa_offset 24]; set_loc is pcrel like the FDE address.
    const withSetLoc = (target: number) => {
      const bb = new CfiBuilder('eh_frame');
      const c = bb.cie();
      const start = bb.bytes.length;
      const instrPos = start + 4 + 4 + 4 + 4 + 1; // length, CIE pointer, address, range, aug length
      const fieldPos = instrPos + 2 + 1;
      bb.fde({
        cie: c,
        address: pcrel4(0x1000, VADDR),
        range: le(0x100, 4),
        augmentationData: [],
        instructions: [0x0e, 16, 0x01, ...le(target - (VADDR + fieldPos), 4), 0x0e, 24],
      });
      return parseEhFrame(bb.buffer(), { vaddr: VADDR });
    };
    expect(rowsOf(withSetLoc(0x1040)).rows.map((r) => [r.loc, r.cfa])).toEqual([
      [0x1000, 'r7+16'],
      [0x1040, 'r7+24'],
    ]);
    const back = rowsOf(withSetLoc(0x0800));
    expect(back.error).toBe('bad_location');
    expect(back.errorLoc).toBe(0x1000);
  });

  it('interprets register rules: offset forms, restore, undefined, same_value, register, expressions, val forms', () => {
    const s = oneFde([
      0x80 | 6, 2, // offset rbp, 2 × -8
      0x05, 3, 3, // offset_extended rbx, 3 × -8
      0x40 | 1,
      0x11, 6, ...sleb(-4), // offset_extended_sf rbp: -4 × -8 = +32
      0x2f, 3, 1, // GNU_negative_offset_extended rbx: -(1 × -8) = +8
      0x40 | 1,
      0xc0 | 6, // restore rbp (initial: no rule)
      0x06, 3, // restore_extended rbx
      0x40 | 1,
      0x07, 6, // undefined rbp
      0x08, 3, // same_value rbx
      0x40 | 1,
      0x09, 6, 3, // register rbp in rbx
      0x10, 3, 2, 0x77, 0x10, // expression rbx: DW_OP_breg7 16
      0x40 | 1,
      0x14, 6, 2, // val_offset rbp: 2 × -8
      0x16, 3, 1, 0x9c, // val_expression rbx
      0x40 | 1,
      0x15, 6, ...sleb(-1), // val_offset_sf rbp: -1 × -8 = 8
      0x2e, 32, // GNU_args_size (no effect)
      0x00, // nop
    ]);
    expect(rowsOf(s).rows.map((r) => [r.loc - 0x1000, r.rbp, r.rbx])).toEqual([
      [0, 'c-16', 'c-24'],
      [1, 'c32', 'c8'],
      [2, '-', '-'],
      [3, 'u', 's'],
      [4, 'r3', 'exp2'],
      [5, 'v-16', 'vexp1'],
      [6, 'v8', 'vexp1'],
    ]);
  });

  it('restores to the CIE initial rule, not to nothing', () => {
    const b = new CfiBuilder('eh_frame');
    const cie = b.cie({ instructions: [0x0c, 7, 8, 0x90, 1, 0x80 | 6, 2] });
    b.fde({ cie, address: pcrel4(0x1000, VADDR), range: le(0x10, 4), augmentationData: [], instructions: [0x80 | 6, 4, 0x41, 0xc0 | 6] });
    const s = parseEhFrame(b.buffer(), { vaddr: VADDR });
    expect(rowsOf(s).rows.map((r) => r.rbp)).toEqual(['c-32', 'c-16']);
  });

  it('interprets the CFA rules: def_cfa, def_cfa_sf, def_cfa_register, def_cfa_offset(_sf), def_cfa_expression', () => {
    const s = oneFde([
      0x0c, 6, 16, // def_cfa rbp+16 (not factored)
      0x41,
      0x12, 7, ...sleb(-3), // def_cfa_sf rsp: -3 × -8 = 24
      0x41,
      0x0d, 10, // def_cfa_register r10 (offset kept)
      0x41,
      0x0e, 40, // def_cfa_offset 40 (not factored)
      0x41,
      0x13, ...sleb(-6), // def_cfa_offset_sf: 48
      0x41,
      0x0f, 3, 0x77, 8, 0x06, // def_cfa_expression
      0x41,
      0x0d, 7, // def_cfa_register after an expression: rsp+0
    ]);
    expect(rowsOf(s).rows.map((r) => r.cfa)).toEqual(['r6+16', 'r7+24', 'r10+24', 'r10+40', 'r10+48', 'exp3', 'r7+0']);
  });

  it('remembers and restores the whole row, CFA included', () => {
    const s = oneFde([
      0x0e, 16, 0x80 | 6, 2,
      0x41,
      0x0a, // remember
      0x0e, 8, 0xc0 | 6,
      0x41,
      0x0b, // restore
      0x41,
      0x0a, 0x0a, 0x0e, 64, 0x0b, 0x0b, // nested
    ]);
    expect(rowsOf(s).rows.map((r) => [r.cfa, r.rbp])).toEqual([
      ['r7+16', 'c-16'],
      ['r7+8', '-'],
      ['r7+16', 'c-16'],
      ['r7+16', 'c-16'],
    ]);
  });

  it('stops on bad programs and says where the rules stop being known', () => {
    const bad = (instructions: number[]) => rowsOf(oneFde(instructions));
    expect(bad([0x0e, 16, 0x41, 0x1c])).toMatchObject({ error: 'bad_opcode', errorLoc: 0x1001 });
    expect(bad([0x41, 0x0b])).toMatchObject({ error: 'state_underflow', errorLoc: 0x1001 });
    expect(bad(new Array(65).fill(0x0a))).toMatchObject({ error: 'state_overflow', errorLoc: 0x1000 });
    expect(bad([0x42, 0x0e])).toMatchObject({ error: 'truncated', errorLoc: 0x1002 });
    expect(bad([0x0f, 9, 0x77])).toMatchObject({ error: 'truncated' });
    expect(bad([0x42, 0x0e]).rows.map((r) => r.loc)).toEqual([0x1000]);
  });

  it('ignores what follows the end of the FDE range, and rows at or past it', () => {
    const s = oneFde([0x0e, 16, 0x04, ...le(0x100, 4), 0x0e, 24, 0x1c], { size: 0x100 });
    const r = rowsOf(s);
    expect(r.error).toBeUndefined();
    expect(r.rows.map((x) => x.loc)).toEqual([0x1000]);
  });

  it('keeps the last rule when several are given at one location (advance by 0)', () => {
    const s = oneFde([0x0e, 16, 0x40, 0x0e, 24, 0x02, 0, 0x0e, 32, 0x41]);
    expect(rowsOf(s).rows.map((r) => [r.loc - 0x1000, r.cfa])).toEqual([
      [0, 'r7+32'],
      [1, 'r7+32'],
    ]);
  });
});
