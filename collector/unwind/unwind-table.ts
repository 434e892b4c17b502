// From call frame information to the row table the in-kernel unwinder searches (rows.ts, programs/unwind.h).
// One row per change of the CFA rule or the rbp rule, sorted by pc; a CFA_NONE row where an FDE ends and no
// other begins; consecutive rows with the same rules merged. A file's `.eh_frame` and `.debug_frame` are
// combined, `.eh_frame` first: a Go binary linked with cgo describes its C code in `.eh_frame` and its Go
// code only in `.debug_frame`. x86-64 only: the CFA is rsp+off, rbp+off or one of the two .plt expressions;
// the return address must be at CFA-8; rbp is unchanged or saved at CFA+off. Everything else becomes
// CFA_NONE (or RBP_UNSUPPORTED) and is counted. Never throws; memory is bounded by `maxRows` and
// `maxSectionBytes`, time by the sections' size.

import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import { bufferSource, parseElf, PF_X, type ByteSource, type ElfSection } from '../symbolize/elf.js';
import {
  CfaEvaluator,
  CfaKind,
  RegRule,
  cfiErrorTotal,
  emptyCfiErrors,
  parseDebugFrame,
  parseEhFrame,
  type CfaProgramError,
  type CfaState,
  type CfiErrors,
  type CfiSection,
} from './eh-frame.js';
import { CfaRule, RbpRule, UNWIND_ROW_SIZE, UnwindRowOffsets, unwindRowPc, writeUnwindRow } from './rows.js';

/** DWARF register numbers on x86-64. */
export const DWARF_REG_RBP = 6;
export const DWARF_REG_RSP = 7;
export const DWARF_REG_RA = 16;
const EM_X86_64 = 62;
const SHT_NOBITS = 8;
const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;
const ELFCOMPRESS_ZSTD = 2;

export const DEFAULT_MAX_UNWIND_ROWS = 4_000_000;
export const DEFAULT_MAX_CFI_SECTION_BYTES = 256 << 20;

// The two .plt CFA expressions (GNU ld's lazy-binding PLT entries):
// DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11|lit10; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
const PLT_EXPRESSION_HEAD = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a];
const PLT_EXPRESSION_TAIL = [0x2a, 0x33, 0x24, 0x22];
const DW_OP_LIT10 = 0x3a;
const DW_OP_LIT11 = 0x3b;

export type UnwindSource = 'eh_frame' | 'debug_frame' | 'eh_frame+debug_frame' | 'none';

export interface UnwindTableOptions {
  /** Cap on rows in the table; past it the table ends at the last whole FDE (stats.rowLimitReached). */
  maxRows?: number;
  /** Cap on the CFI section's size, compressed and uncompressed. */
  maxSectionBytes?: number;
  /** Keep only FDEs inside one of these [start, end) address ranges (the executable segments). */
  codeRanges?: ReadonlyArray<readonly [number, number]>;
}

/** Rows that could not be expressed, counted before merging, by reason. */
export interface UnsupportedCounts {
  /** def_cfa_expression other than the two .plt patterns (signal trampolines, hand-written assembly). */
  cfaExpression: number;
  /** CFA based on a register other than rsp or rbp. */
  cfaRegister: number;
  /** CFA offset outside s32. */
  cfaOffset: number;
  /** No CFA rule at all. */
  cfaUnset: number;
  /** Return address not at CFA-8 (or a return-address column other than 16). */
  returnAddress: number;
  /** rbp restored by register, expression, val_offset or undefined. */
  rbpRule: number;
  /** rbp saved at an offset outside s16. */
  rbpOffset: number;
}

export interface UnwindTableStats {
  /** The sections the rows come from. */
  source: UnwindSource;
  /** A section was compressed (SHF_COMPRESSED or .zdebug). */
  compressed: boolean;
  /** Bytes of the CFI sections (uncompressed). */
  sectionBytes: number;
  cies: number;
  /** FDEs parsed. */
  fdes: number;
  /** FDEs that gave rows. */
  fdesUsed: number;
  /** FDEs with an empty address range. */
  fdesEmpty: number;
  /**
   * FDEs overlapping one used before them: FDEs are taken by start address, then `.eh_frame` before
   * `.debug_frame`, then section order, and one that starts before the previous one ends is dropped.
   */
  fdesOverlapping: number;
  /** FDEs used per section. */
  fdesUsedEhFrame: number;
  fdesUsedDebugFrame: number;
  /** FDEs outside the executable segments. */
  fdesOutsideCode: number;
  /** FDEs of signal trampolines ('S' augmentation). */
  signalFrameFdes: number;
  /** Rows of the CFA programs inside their FDEs' ranges, before merging. */
  rowsBeforeMerge: number;
  /** Rows in the table (count). */
  rows: number;
  bytes: number;
  /** Rows (before merging) with the .plt patterns, and with an undefined return address. */
  pltRows: number;
  endRows: number;
  /** Rows (before merging) whose CFA cannot be expressed (CFA_NONE), and whose rbp cannot. */
  unsupportedCfa: number;
  unsupportedRbp: number;
  unsupported: UnsupportedCounts;
  /** FDEs whose CFA program could not be followed to its end, by reason (rows stop where it broke). */
  programErrors: Record<CfaProgramError, number>;
  /** All parse errors and program errors together (details below). */
  errors: number;
  /** Entries skipped while parsing the sections (summed). */
  parseErrors: CfiErrors;
  /** maxRows was reached: the table covers only the FDEs before that point. */
  rowLimitReached: boolean;
  buildMs: number;
}

export interface UnwindTable {
  /** The sections the rows come from (also in stats). */
  source: UnwindSource;
  /** count * UNWIND_ROW_SIZE bytes of struct unwind_row, sorted by pc. */
  rows: Buffer;
  count: number;
  stats: UnwindTableStats;
  /** Why there is no table (not an ELF64 x86-64 file, no CFI section, unreadable section); rows are empty. */
  error?: string;
  /** A section left out while another was used (unreadable, too large, bad compression). */
  warnings?: string[];
}

function emptyStats(): UnwindTableStats {
  return {
    source: 'none',
    compressed: false,
    sectionBytes: 0,
    cies: 0,
    fdes: 0,
    fdesUsed: 0,
    fdesEmpty: 0,
    fdesOverlapping: 0,
    fdesUsedEhFrame: 0,
    fdesUsedDebugFrame: 0,
    fdesOutsideCode: 0,
    signalFrameFdes: 0,
    rowsBeforeMerge: 0,
    rows: 0,
    bytes: 0,
    pltRows: 0,
    endRows: 0,
    unsupportedCfa: 0,
    unsupportedRbp: 0,
    unsupported: { cfaExpression: 0, cfaRegister: 0, cfaOffset: 0, cfaUnset: 0, returnAddress: 0, rbpRule: 0, rbpOffset: 0 },
    programErrors: { truncated: 0, bad_opcode: 0, state_overflow: 0, state_underflow: 0, bad_location: 0, work_limit: 0 },
    parseErrors: emptyCfiErrors(),
    errors: 0,
    rowLimitReached: false,
    buildMs: 0,
  };
}

/** A growable row buffer that merges a row into the previous one when their rules are equal. */
class RowWriter {
  buf: Buffer;
  count = 0;
  constructor(
    initialRows: number,
    private readonly maxRows: number,
  ) {
    this.buf = Buffer.alloc(Math.max(1, Math.min(initialRows, maxRows)) * UNWIND_ROW_SIZE);
  }

  private sameRules(i: number, cfaRule: number, cfaOffset: number, rbpRule: number, rbpOffset: number): boolean {
    const o = i * UNWIND_ROW_SIZE;
    const b = this.buf;
    return (
      b[o + UnwindRowOffsets.CFA_RULE] === cfaRule &&
      b[o + UnwindRowOffsets.RBP_RULE] === rbpRule &&
      b.readInt32LE(o + UnwindRowOffsets.CFA_OFFSET) === cfaOffset &&
      b.readInt16LE(o + UnwindRowOffsets.RBP_OFFSET) === rbpOffset
    );
  }

  lastRuleIs(cfaRule: number): boolean {
    return this.count > 0 && this.buf[(this.count - 1) * UNWIND_ROW_SIZE + UnwindRowOffsets.CFA_RULE] === cfaRule;
  }

  /** Appends a row (pc not below the last row's); false when the table is full. */
  append(pc: number, cfaRule: number, cfaOffset: number, rbpRule: number, rbpOffset: number): boolean {
    if (this.count > 0) {
      const last = this.count - 1;
      if (this.sameRules(last, cfaRule, cfaOffset, rbpRule, rbpOffset)) return true;
      if (unwindRowPc(this.buf, last) === pc) {
        // A later rule at the same pc replaces the earlier one, which then covered no bytes.
        if (last > 0 && this.sameRules(last - 1, cfaRule, cfaOffset, rbpRule, rbpOffset)) this.count--;
        else writeUnwindRow(this.buf, last, pc, cfaRule, cfaOffset, rbpRule, rbpOffset);
        return true;
      }
    }
    if (this.count >= this.maxRows) return false;
    if ((this.count + 1) * UNWIND_ROW_SIZE > this.buf.length) {
      // By half: what a large binary's build holds at its peak is the old and the new buffer (doubling, then a
      // trimmed copy, then the worker's own copy held 27 MB for node's 6 MB table).
      const next = Buffer.alloc(Math.min(this.maxRows, this.count + Math.max(64, this.count >> 1)) * UNWIND_ROW_SIZE);
      this.buf.copy(next, 0, 0, this.count * UNWIND_ROW_SIZE);
      this.buf = next;
    }
    writeUnwindRow(this.buf, this.count++, pc, cfaRule, cfaOffset, rbpRule, rbpOffset);
    return true;
  }

  /**
   * The rows, at the start of a buffer of their own (never a pooled one: the worker transfers its memory
   * whole, slack included, rather than copy it). Copied only when more than half of it would be slack.
   */
  finish(): Buffer {
    const used = this.count * UNWIND_ROW_SIZE;
    if (used * 2 >= this.buf.length) return this.buf.subarray(0, used);
    const own = Buffer.alloc(used);
    this.buf.copy(own, 0, 0, used);
    return own;
  }
}

/** One row's rules in the kernel's terms. */
interface RowRules {
  cfaRule: number;
  cfaOffset: number;
  rbpRule: number;
  rbpOffset: number;
}

function isPltExpression(data: Buffer, start: number, length: number): 0 | 1 | 2 {
  if (length !== PLT_EXPRESSION_HEAD.length + 1 + PLT_EXPRESSION_TAIL.length) return 0;
  for (let i = 0; i < PLT_EXPRESSION_HEAD.length; i++) if (data[start + i] !== PLT_EXPRESSION_HEAD[i]) return 0;
  const tail = start + PLT_EXPRESSION_HEAD.length + 1;
  for (let i = 0; i < PLT_EXPRESSION_TAIL.length; i++) if (data[tail + i] !== PLT_EXPRESSION_TAIL[i]) return 0;
  const lit = data[start + PLT_EXPRESSION_HEAD.length];
  return lit === DW_OP_LIT11 ? 1 : lit === DW_OP_LIT10 ? 2 : 0;
}

const S32_MIN = -0x8000_0000;
const S32_MAX = 0x7fff_ffff;
const S16_MIN = -0x8000;
const S16_MAX = 0x7fff;

/** Translates the DWARF rules at one location into the kernel's row, counting what cannot be expressed. */
function toRowRules(state: CfaState, raRegister: number, data: Buffer, stats: UnwindTableStats, out: RowRules): void {
  out.cfaRule = CfaRule.NONE;
  out.cfaOffset = 0;
  out.rbpRule = RbpRule.UNCHANGED;
  out.rbpOffset = 0;
  const raRule = raRegister === DWARF_REG_RA ? state.rule(DWARF_REG_RA) : RegRule.UNSET;
  if (raRule === RegRule.UNDEFINED) {
    out.cfaRule = CfaRule.END;
    stats.endRows++;
    return;
  }
  if (raRule !== RegRule.OFFSET || state.ruleValue(DWARF_REG_RA) !== -8) {
    stats.unsupported.returnAddress++;
    stats.unsupportedCfa++;
    return;
  }
  const kind = state.cfaKind;
  if (kind === CfaKind.REG_OFFSET) {
    const reg = state.cfaRegister;
    const off = state.cfaOffset;
    if (reg !== DWARF_REG_RSP && reg !== DWARF_REG_RBP) {
      stats.unsupported.cfaRegister++;
      stats.unsupportedCfa++;
      return;
    }
    if (!Number.isInteger(off) || off < S32_MIN || off > S32_MAX) {
      stats.unsupported.cfaOffset++;
      stats.unsupportedCfa++;
      return;
    }
    out.cfaRule = reg === DWARF_REG_RSP ? CfaRule.RSP : CfaRule.RBP;
    out.cfaOffset = off;
  } else if (kind === CfaKind.EXPRESSION) {
    const plt = isPltExpression(data, state.cfaExpressionStart, state.cfaExpressionLength);
    if (plt === 0) {
      stats.unsupported.cfaExpression++;
      stats.unsupportedCfa++;
      return;
    }
    out.cfaRule = plt === 1 ? CfaRule.PLT1 : CfaRule.PLT2;
    out.cfaOffset = 8;
    stats.pltRows++;
  } else {
    stats.unsupported.cfaUnset++;
    stats.unsupportedCfa++;
    return;
  }
  const rbp = state.rule(DWARF_REG_RBP);
  if (rbp === RegRule.UNSET || rbp === RegRule.SAME_VALUE) return;
  if (rbp === RegRule.OFFSET) {
    const off = state.ruleValue(DWARF_REG_RBP);
    if (Number.isInteger(off) && off >= S16_MIN && off <= S16_MAX) {
      out.rbpRule = RbpRule.CFA_OFFSET;
      out.rbpOffset = off;
      return;
    }
    stats.unsupported.rbpOffset++;
  } else {
    stats.unsupported.rbpRule++;
  }
  out.rbpRule = RbpRule.UNSUPPORTED;
  stats.unsupportedRbp++;
}

/**
 * Builds the row table from parsed call frame information: one section, or several in priority order
 * (`.eh_frame` before `.debug_frame`), combined. Never throws.
 */
export function buildUnwindRows(sections: CfiSection | readonly CfiSection[], options: UnwindTableOptions = {}): UnwindTable {
  const started = performance.now();
  const list = Array.isArray(sections) ? (sections as readonly CfiSection[]) : [sections as CfiSection];
  const stats = emptyStats();
  const kinds = new Set(list.map((s) => s.kind));
  stats.source = kinds.size === 2 ? 'eh_frame+debug_frame' : kinds.size === 1 ? list[0].kind : 'none';
  for (const section of list) {
    stats.sectionBytes += section.data.length;
    stats.cies += section.cies.length;
    stats.fdes += section.fdeCount;
    for (const [k, v] of Object.entries(section.errors)) stats.parseErrors[k as keyof CfiErrors] += v;
  }
  const maxRows = Math.max(2, options.maxRows ?? DEFAULT_MAX_UNWIND_ROWS);
  const ranges = options.codeRanges ? [...options.codeRanges].sort((a, b) => a[0] - b[0]) : undefined;

  // FDEs of all sections numbered one after the other (section order, then FDE order), sorted by address.
  const firstOf: number[] = [];
  let total = 0;
  for (const section of list) {
    firstOf.push(total);
    total += section.fdeCount;
  }
  const sectionOf = new Uint8Array(total);
  const begin = new Float64Array(total);
  for (let s = 0; s < list.length; s++) {
    sectionOf.fill(s, firstOf[s], firstOf[s] + list[s].fdeCount);
    begin.set(list[s].fdePcBegin, firstOf[s]);
  }
  const order = new Uint32Array(total);
  for (let g = 0; g < total; g++) order[g] = g;
  order.sort((a, b) => begin[a] - begin[b] || a - b);

  // A first guess for the buffer: a few rows per FDE.
  const writer = new RowWriter(Math.max(64, total * 4), maxRows);
  const evaluators = list.map((section) => new CfaEvaluator(section));
  const rules: RowRules = { cfaRule: 0, cfaOffset: 0, rbpRule: 0, rbpOffset: 0 };
  let lastEnd = -1; // end of the last FDE used
  let pendingEnd = -1; // where a CFA_NONE row goes unless the next FDE starts there
  let full = false;

  for (let k = 0; k < total && !full; k++) {
    const g = order[k];
    const s = sectionOf[g];
    const section = list[s];
    const i = g - firstOf[s];
    const pcBegin = section.fdePcBegin[i];
    const pcEnd = section.fdePcEnd[i];
    if (!(pcEnd > pcBegin)) {
      stats.fdesEmpty++;
      continue;
    }
    if (ranges && !ranges.some(([rs, re]) => pcBegin >= rs && pcEnd <= re)) {
      stats.fdesOutsideCode++;
      continue;
    }
    if (pcBegin < lastEnd) {
      stats.fdesOverlapping++;
      continue;
    }
    const cie = section.cies[section.fdeCie[i]];
    if (pendingEnd >= 0 && pendingEnd < pcBegin && !writer.append(pendingEnd, CfaRule.NONE, 0, RbpRule.UNCHANGED, 0)) {
      full = true;
      break;
    }
    const countBefore = writer.count;
    let overflow = false;
    const result = evaluators[s].evaluate(i, (loc, state) => {
      stats.rowsBeforeMerge++;
      if (overflow) return;
      toRowRules(state, cie.raRegister, section.data, stats, rules);
      // Keep one row free for the CFA_NONE that closes the table.
      if (writer.count >= maxRows - 1 || !writer.append(loc, rules.cfaRule, rules.cfaOffset, rules.rbpRule, rules.rbpOffset)) overflow = true;
    });
    if (overflow) {
      // Drop this FDE's rows: the table ends where the previous FDE did.
      writer.count = countBefore;
      if (!writer.lastRuleIs(CfaRule.NONE)) writer.append(pcBegin, CfaRule.NONE, 0, RbpRule.UNCHANGED, 0);
      pendingEnd = -1;
      full = true;
      break;
    }
    if (result.error) {
      stats.programErrors[result.error]++;
      if (result.errorLoc < pcEnd && !writer.append(result.errorLoc, CfaRule.NONE, 0, RbpRule.UNCHANGED, 0)) {
        full = true;
        break;
      }
    }
    if (cie.signalFrame) stats.signalFrameFdes++;
    stats.fdesUsed++;
    if (section.kind === 'eh_frame') stats.fdesUsedEhFrame++;
    else stats.fdesUsedDebugFrame++;
    lastEnd = pcEnd;
    pendingEnd = pcEnd;
  }
  if (pendingEnd >= 0 && !writer.append(pendingEnd, CfaRule.NONE, 0, RbpRule.UNCHANGED, 0)) full = true;
  stats.rowLimitReached = full;
  stats.errors = cfiErrorTotal(stats.parseErrors) + Object.values(stats.programErrors).reduce((a, b) => a + b, 0);
  const rows = writer.finish();
  stats.rows = writer.count;
  stats.bytes = rows.length;
  stats.buildMs = performance.now() - started;
  return { source: stats.source, rows, count: writer.count, stats };
}

/** A CFI section's bytes, decompressed when needed. */
type SectionBytes = { ok: true; data: Buffer; compressed: boolean } | { ok: false; error: string };

function readSectionBytes(src: ByteSource, sec: ElfSection, maxBytes: number): SectionBytes {
  const size = sec.size;
  if (sec.offset + size > BigInt(src.size)) return { ok: false, error: `read ${sec.name}: past end of file` };
  if (size > BigInt(maxBytes)) return { ok: false, error: `read ${sec.name}: ${size} bytes exceeds limit ${maxBytes}` };
  const raw = src.read(Number(sec.offset), Number(size));
  if (raw.length !== Number(size)) return { ok: false, error: `read ${sec.name}: short read (${raw.length} of ${size} bytes)` };
  let payload: Buffer;
  let expected: number;
  let zstd = false;
  if ((sec.flags & SHF_COMPRESSED) !== 0n) {
    if (raw.length < 24) return { ok: false, error: `decompress ${sec.name}: no compression header` };
    const type = raw.readUInt32LE(0);
    const chSize = raw.readBigUInt64LE(8);
    if (type !== ELFCOMPRESS_ZLIB && type !== ELFCOMPRESS_ZSTD) return { ok: false, error: `decompress ${sec.name}: unknown compression type ${type}` };
    if (chSize > BigInt(maxBytes)) return { ok: false, error: `decompress ${sec.name}: ${chSize} bytes exceeds limit ${maxBytes}` };
    payload = raw.subarray(24);
    expected = Number(chSize);
    zstd = type === ELFCOMPRESS_ZSTD;
  } else if (sec.name.startsWith('.zdebug')) {
    if (raw.length < 12 || raw.toString('latin1', 0, 4) !== 'ZLIB') return { ok: false, error: `decompress ${sec.name}: no ZLIB header` };
    const zSize = raw.readBigUInt64BE(4);
    if (zSize > BigInt(maxBytes)) return { ok: false, error: `decompress ${sec.name}: ${zSize} bytes exceeds limit ${maxBytes}` };
    payload = raw.subarray(12);
    expected = Number(zSize);
  } else {
    return { ok: true, data: raw, compressed: false };
  }
  try {
    let data: Buffer;
    if (zstd) {
      // zstd arrived in node:zlib after Node 20; use it where the runtime has it.
      const decompress = (zlib as unknown as { zstdDecompressSync?: (b: Buffer, o: { maxOutputLength: number }) => Buffer }).zstdDecompressSync;
      if (!decompress) return { ok: false, error: `decompress ${sec.name}: zstd is not supported by this Node.js` };
      data = decompress(payload, { maxOutputLength: Math.max(1, expected) });
    } else {
      data = zlib.inflateSync(payload, { maxOutputLength: Math.max(1, expected) });
    }
    if (data.length !== expected) return { ok: false, error: `decompress ${sec.name}: ${data.length} bytes, header says ${expected}` };
    return { ok: true, data, compressed: true };
  } catch (err) {
    return { ok: false, error: `decompress ${sec.name}: ${(err as Error)?.message ?? String(err)}` };
  }
}

function failed(error: string, stats: UnwindTableStats, started: number): UnwindTable {
  stats.buildMs = performance.now() - started;
  return { source: stats.source, rows: Buffer.alloc(0), count: 0, stats, error };
}

/**
 * Builds the unwind table of an ELF64 x86-64 file from its `.eh_frame` and its `.debug_frame` (possibly
 * compressed, or `.zdebug_frame`), combined with `.eh_frame` first; `source` says which were used. Only
 * FDEs inside executable PT_LOAD segments are used (unless `options.codeRanges` says otherwise). Never
 * throws: a file without a usable section gets `error` and no rows. A section that cannot be read while
 * the other can is reported in `warnings`.
 */
export function buildUnwindTable(file: Buffer | ByteSource, options: UnwindTableOptions = {}): UnwindTable {
  const started = performance.now();
  const stats = emptyStats();
  const src = Buffer.isBuffer(file) ? bufferSource(file) : file;
  let parsed;
  try {
    parsed = parseElf(src, { skipSymbols: true });
  } catch (err) {
    // A ByteSource supplied by the caller may throw (a file truncated under us).
    return failed(`parse ELF: ${(err as Error)?.message ?? String(err)}`, stats, started);
  }
  if (!parsed.ok) return failed(parsed.error, stats, started);
  const elf = parsed.elf;
  if (elf.machine !== EM_X86_64) return failed(`unwind table: machine ${elf.machine} is not x86-64`, stats, started);
  const usable = (name: string) => elf.sections.find((s) => s.name === name && s.type !== SHT_NOBITS && s.size > 0n);
  const eh = usable('.eh_frame');
  const debug = usable('.debug_frame') ?? usable('.zdebug_frame');
  if (!eh && !debug) return failed('unwind table: no .eh_frame or .debug_frame section', stats, started);
  const maxBytes = options.maxSectionBytes ?? DEFAULT_MAX_CFI_SECTION_BYTES;
  const sections: CfiSection[] = [];
  const warnings: string[] = [];
  let compressed = false;
  for (const sec of [eh, debug]) {
    if (!sec) continue;
    let bytes: SectionBytes;
    try {
      bytes = readSectionBytes(src, sec, maxBytes);
    } catch (err) {
      bytes = { ok: false, error: `read ${sec.name}: ${(err as Error)?.message ?? String(err)}` };
    }
    if (!bytes.ok) {
      warnings.push(bytes.error);
      continue;
    }
    compressed ||= bytes.compressed;
    sections.push(sec === eh ? parseEhFrame(bytes.data, { vaddr: Number(sec.addr) }) : parseDebugFrame(bytes.data));
  }
  if (sections.length === 0) {
    const t = failed(warnings.join('; '), stats, started);
    return t;
  }
  const exec = elf.loads.filter((l) => (l.flags & PF_X) !== 0);
  const codeRanges = options.codeRanges ?? (exec.length > 0 ? exec.map((l) => [Number(l.vaddr), Number(l.vaddr + l.memsz)] as const) : undefined);
  const table = buildUnwindRows(sections, { ...options, codeRanges });
  table.stats.compressed = compressed;
  table.stats.buildMs = performance.now() - started;
  if (warnings.length > 0) table.warnings = warnings;
  return table;
}
