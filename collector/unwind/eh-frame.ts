// Call frame information of an ELF64 little-endian file: `.eh_frame` (the LSB format, with augmentations and
// pointer encodings) and `.debug_frame` (DWARF 2-4 CIE format), and the CFA program that turns a CIE and an
// FDE into rows of rules. Pure over the section's bytes. Never throws: a malformed entry is counted and
// skipped, parsing stops where the entry chain is broken, and every loop is bounded by the bytes it reads.
//
// Facts used (DWARF 4 §6.4, LSB 5.0 "Exception Frames"):
// - an entry starts with a 4-byte length; 0xffffffff escapes to an 8-byte length (64-bit DWARF);
//   in .eh_frame a length of 0 is the terminator;
// - .eh_frame: CIE id 0, an FDE's CIE pointer is the distance back from the pointer field to its CIE;
//   .debug_frame: CIE id 0xffffffff (all ones in 64-bit DWARF), an FDE's CIE pointer is a section offset;
// - pointer encodings DW_EH_PE_*: low nibble the format, bits 4-6 the base, bit 7 indirect.

/** Which section the entries come from. */
export type CfiKind = 'eh_frame' | 'debug_frame';

export interface CfiParseOptions {
  /** Virtual address of the section: the base of pcrel pointers in `.eh_frame`. */
  vaddr?: number;
  /** Base of DW_EH_PE_textrel pointers (the `.text` address), when known. */
  textVaddr?: number;
  /** Base of DW_EH_PE_datarel pointers (the GOT address), when known. */
  dataVaddr?: number;
  /** Cap on FDEs kept (further FDEs are counted in errors.fdeLimit). Default 2^20. */
  maxFdes?: number;
  /** Cap on CIEs kept. Default 2^16. */
  maxCies?: number;
}

export interface Cie {
  /** Section offset of the entry. */
  offset: number;
  version: number;
  augmentation: string;
  codeAlign: number;
  dataAlign: number;
  raRegister: number;
  /** DW_EH_PE_* of FDE addresses (absptr in .debug_frame). */
  fdeEncoding: number;
  lsdaEncoding: number;
  /** The augmentation has 'z': FDEs carry an augmentation data length. */
  hasAugmentationData: boolean;
  /** 'S': the FDEs describe signal trampolines. */
  signalFrame: boolean;
  addressSize: number;
  segmentSize: number;
  /** Initial instructions: [instructionsStart, instructionsEnd) in the section. */
  instructionsStart: number;
  instructionsEnd: number;
}

export interface Fde {
  offset: number;
  cie: number;
  pcBegin: number;
  pcEnd: number;
  instructionsStart: number;
  instructionsEnd: number;
}

/** What was skipped, by reason. Parsing continues after every one except `truncated` and `badLength`. */
export interface CfiErrors {
  /** An entry runs past the end of the section (parsing stops there). */
  truncated: number;
  /** A reserved length value (0xfffffff0-0xfffffffe) (parsing stops there). */
  badLength: number;
  /** A CIE that cannot be read: unknown version, fields past its end, bad address size. */
  badCie: number;
  /** A CIE whose augmentation cannot be skipped (no 'z' and not "" or "eh"). */
  unsupportedAugmentation: number;
  /** An FDE whose CIE pointer leads to no usable CIE. */
  badCiePointer: number;
  /** An FDE whose address cannot be read: unknown encoding, indirect, unknown base, out of range. */
  badPointer: number;
  /** An FDE whose fields run past its end. */
  badFde: number;
  /** FDEs or CIEs past the caps. */
  fdeLimit: number;
  cieLimit: number;
  /** Zero-length entries in .debug_frame (skipped). */
  zeroEntries: number;
}

/** The parsed entries. FDEs are kept in typed arrays (struct of arrays), in section order. */
export interface CfiSection {
  kind: CfiKind;
  data: Buffer;
  vaddr: number;
  cies: Cie[];
  fdeCount: number;
  fdeOffset: Float64Array;
  fdeCie: Int32Array;
  fdePcBegin: Float64Array;
  fdePcEnd: Float64Array;
  fdeInstructionsStart: Float64Array;
  fdeInstructionsEnd: Float64Array;
  /** An .eh_frame zero terminator was seen. */
  terminated: boolean;
  errors: CfiErrors;
}

export const DW_EH_PE = {
  absptr: 0x00,
  uleb128: 0x01,
  udata2: 0x02,
  udata4: 0x03,
  udata8: 0x04,
  signed: 0x08,
  sleb128: 0x09,
  sdata2: 0x0a,
  sdata4: 0x0b,
  sdata8: 0x0c,
  pcrel: 0x10,
  textrel: 0x20,
  datarel: 0x30,
  funcrel: 0x40,
  aligned: 0x50,
  indirect: 0x80,
  omit: 0xff,
} as const;

const TWO32 = 0x1_0000_0000;
const TWO64 = 18446744073709551616;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A bounds-checked reader over [pos, end) of a buffer: reading past `end` clears `ok` and yields 0. */
export class CfiCursor {
  ok = true;
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  private need(n: number): boolean {
    if (this.pos + n > this.end) {
      this.ok = false;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): number {
    return this.need(1) ? this.buf[this.pos++] : 0;
  }
  /** A fixed-size little-endian field read by `read` (one of Buffer's readers); 0 past the end. */
  private fixed(size: number, read: (this: Buffer, offset: number) => number): number {
    if (!this.need(size)) return 0;
    const v = read.call(this.buf, this.pos);
    this.pos += size;
    return v;
  }
  u16(): number {
    return this.fixed(2, Buffer.prototype.readUInt16LE);
  }
  s16(): number {
    return this.fixed(2, Buffer.prototype.readInt16LE);
  }
  u32(): number {
    return this.fixed(4, Buffer.prototype.readUInt32LE);
  }
  s32(): number {
    return this.fixed(4, Buffer.prototype.readInt32LE);
  }
  /** Unsigned 64-bit as a number: exact below 2^53, approximate (and > MAX_SAFE) above. */
  u64(): number {
    if (!this.need(8)) return 0;
    const v = this.buf.readUInt32LE(this.pos) + this.buf.readUInt32LE(this.pos + 4) * TWO32;
    this.pos += 8;
    return v;
  }
  s64(): number {
    if (!this.need(8)) return 0;
    const v = this.buf.readUInt32LE(this.pos) + this.buf.readInt32LE(this.pos + 4) * TWO32;
    this.pos += 8;
    return v;
  }
  /** ULEB128; bits past 2^64 are dropped (the value is then inexact, which every caller range-checks). */
  uleb(): number {
    let v = 0;
    let mul = 1;
    while (this.pos < this.end) {
      const b = this.buf[this.pos++];
      if (mul < TWO64) v += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return v;
    }
    this.ok = false;
    return 0;
  }
  sleb(): number {
    let v = 0;
    let mul = 1;
    while (this.pos < this.end) {
      const b = this.buf[this.pos++];
      if (mul < TWO64) v += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        if ((b & 0x40) !== 0 && mul <= TWO64) v -= mul;
        return v;
      }
    }
    this.ok = false;
    return 0;
  }
  skip(n: number): void {
    if (!(n >= 0) || !this.need(n)) {
      this.ok = false;
      this.pos = this.end;
      return;
    }
    this.pos += n;
  }
}

/** Bases for DW_EH_PE_* applications, in virtual addresses. */
export interface PointerBases {
  /** Address of section offset 0 (pcrel). */
  sectionVaddr: number;
  textVaddr?: number;
  dataVaddr?: number;
  /** Start of the current function (funcrel), for DW_CFA_set_loc. */
  funcVaddr?: number;
}

/**
 * Reads a pointer encoded with `encoding` at the cursor. Returns the value (a non-negative safe integer), or
 * -1 when the encoding is unknown, indirect without `allowIndirect` (the pointed-to address is returned
 * unread), omitted, needs a base we do not have, or gives an address outside [0, 2^53).
 * With `applyBase` false only the format is read (FDE address ranges).
 */
export function readEncodedPointer(
  c: CfiCursor,
  encoding: number,
  addressSize: number,
  bases: PointerBases,
  applyBase: boolean,
  allowIndirect = false,
): number {
  if (encoding === DW_EH_PE.omit) return -1;
  if ((encoding & DW_EH_PE.indirect) !== 0 && !allowIndirect) {
    skipEncodedPointer(c, encoding, addressSize, bases.sectionVaddr);
    return -1;
  }
  const application = encoding & 0x70;
  const fieldPos = c.pos;
  let raw: number;
  if (application === DW_EH_PE.aligned) {
    const misalign = (bases.sectionVaddr + c.pos) % addressSize;
    if (misalign !== 0) c.skip(addressSize - misalign);
    raw = addressSize === 4 ? c.u32() : c.u64();
  } else {
    raw = readPointerFormat(c, encoding & 0x0f, addressSize);
  }
  if (!c.ok || Number.isNaN(raw)) return -1;
  if (!applyBase) return raw >= 0 && raw <= MAX_SAFE ? raw : -1;
  let base: number | undefined;
  switch (application) {
    case 0:
    case DW_EH_PE.aligned:
      base = 0;
      break;
    case DW_EH_PE.pcrel:
      base = bases.sectionVaddr + fieldPos;
      break;
    case DW_EH_PE.textrel:
      base = bases.textVaddr;
      break;
    case DW_EH_PE.datarel:
      base = bases.dataVaddr;
      break;
    case DW_EH_PE.funcrel:
      base = bases.funcVaddr;
      break;
    default:
      base = undefined;
  }
  if (base === undefined) return -1;
  let v = base + raw;
  // Addresses wrap modulo 2^64 (a negative pcrel offset from a low base is a wild pointer, not a valid one).
  if (v < 0) v += TWO64;
  return v >= 0 && v <= MAX_SAFE ? v : -1;
}

/** The value in one DW_EH_PE format (low nibble), NaN for an unknown format. */
function readPointerFormat(c: CfiCursor, format: number, addressSize: number): number {
  switch (format) {
    case DW_EH_PE.absptr:
      return addressSize === 4 ? c.u32() : c.u64();
    case DW_EH_PE.uleb128:
      return c.uleb();
    case DW_EH_PE.udata2:
      return c.u16();
    case DW_EH_PE.udata4:
      return c.u32();
    case DW_EH_PE.udata8:
      return c.u64();
    case DW_EH_PE.signed:
      return addressSize === 4 ? c.s32() : c.s64();
    case DW_EH_PE.sleb128:
      return c.sleb();
    case DW_EH_PE.sdata2:
      return c.s16();
    case DW_EH_PE.sdata4:
      return c.s32();
    case DW_EH_PE.sdata8:
      return c.s64();
    default:
      return NaN;
  }
}

/** Moves past an encoded pointer without interpreting it. Clears `ok` for an unknown format. */
function skipEncodedPointer(c: CfiCursor, encoding: number, addressSize: number, sectionVaddr: number): void {
  if (encoding === DW_EH_PE.omit) return;
  if ((encoding & 0x70) === DW_EH_PE.aligned) {
    const misalign = (sectionVaddr + c.pos) % addressSize;
    if (misalign !== 0) c.skip(addressSize - misalign);
    c.skip(addressSize);
    return;
  }
  if (Number.isNaN(readPointerFormat(c, encoding & 0x0f, addressSize))) c.ok = false;
}

export function emptyCfiErrors(): CfiErrors {
  return {
    truncated: 0,
    badLength: 0,
    badCie: 0,
    unsupportedAugmentation: 0,
    badCiePointer: 0,
    badPointer: 0,
    badFde: 0,
    fdeLimit: 0,
    cieLimit: 0,
    zeroEntries: 0,
  };
}

/** Sum of all error counts. */
export function cfiErrorTotal(e: CfiErrors): number {
  let n = 0;
  for (const v of Object.values(e)) n += v;
  return n;
}

/** Parses `.eh_frame` bytes. `options.vaddr` is the section's address (needed for pcrel pointers). */
export function parseEhFrame(data: Buffer, options: CfiParseOptions = {}): CfiSection {
  return parseCfi('eh_frame', data, options);
}

/** Parses `.debug_frame` bytes (already decompressed). */
export function parseDebugFrame(data: Buffer, options: CfiParseOptions = {}): CfiSection {
  return parseCfi('debug_frame', data, options);
}

interface EntryHeader {
  /** Offset of the CIE id / CIE pointer field. */
  idPos: number;
  idSize: number;
  end: number;
  is64: boolean;
}

const ENTRY_TRUNCATED = -1;
const ENTRY_BAD_LENGTH = -2;
const ENTRY_TERMINATOR = -3;
const ENTRY_ZERO = -4;

/** Reads an entry's length fields at `pos`: an EntryHeader, or one of the ENTRY_* codes. */
function readEntryHeader(data: Buffer, pos: number, kind: CfiKind): EntryHeader | number {
  if (pos < 0 || pos + 4 > data.length) return ENTRY_TRUNCATED;
  const len32 = data.readUInt32LE(pos);
  if (len32 === 0) return kind === 'eh_frame' ? ENTRY_TERMINATOR : ENTRY_ZERO;
  let is64 = false;
  let length = len32;
  let headerSize = 4;
  if (len32 === 0xffffffff) {
    if (pos + 12 > data.length) return ENTRY_TRUNCATED;
    length = data.readUInt32LE(pos + 4) + data.readUInt32LE(pos + 8) * TWO32;
    headerSize = 12;
    is64 = true;
  } else if (len32 >= 0xfffffff0) {
    return ENTRY_BAD_LENGTH;
  }
  const end = pos + headerSize + length;
  if (end > data.length) return ENTRY_TRUNCATED;
  // .eh_frame keeps 4-byte CIE ids and pointers even with the 64-bit length (LSB); .debug_frame follows DWARF.
  const idSize = kind === 'debug_frame' && is64 ? 8 : 4;
  return { idPos: pos + headerSize, idSize, end, is64 };
}

class Growable {
  arr: Float64Array;
  constructor(n: number) {
    this.arr = new Float64Array(n);
  }
  set(i: number, v: number): void {
    if (i >= this.arr.length) {
      const next = new Float64Array(this.arr.length * 2);
      next.set(this.arr);
      this.arr = next;
    }
    this.arr[i] = v;
  }
}

function parseCfi(kind: CfiKind, data: Buffer, options: CfiParseOptions): CfiSection {
  const vaddr = options.vaddr ?? 0;
  const maxFdes = options.maxFdes ?? 1 << 20;
  const maxCies = options.maxCies ?? 1 << 16;
  const errors = emptyCfiErrors();
  const cies: Cie[] = [];
  const cieByOffset = new Map<number, number>();
  const bases: PointerBases = { sectionVaddr: vaddr, textVaddr: options.textVaddr, dataVaddr: options.dataVaddr };
  // Typical FDEs are 24-48 bytes: size the arrays from the section (bounded), double when needed.
  const initial = Math.max(16, Math.min(maxFdes, 1 << 16, Math.ceil(data.length / 32)));
  const offsets = new Growable(initial);
  const cieIdx = new Growable(initial);
  const begins = new Growable(initial);
  const ends = new Growable(initial);
  const iStarts = new Growable(initial);
  const iEnds = new Growable(initial);
  let fdeCount = 0;
  let terminated = false;

  const getCie = (offset: number): number => {
    const cached = cieByOffset.get(offset);
    if (cached !== undefined) return cached;
    let index = -1;
    if (cies.length >= maxCies) {
      errors.cieLimit++;
    } else {
      const h = readEntryHeader(data, offset, kind);
      if (typeof h !== 'number' && isCieId(data, h, kind)) {
        const cie = parseCie(data, offset, h, kind, bases, errors);
        if (cie) {
          index = cies.length;
          cies.push(cie);
        }
      }
    }
    cieByOffset.set(offset, index);
    return index;
  };

  let pos = 0;
  while (pos < data.length) {
    const h = readEntryHeader(data, pos, kind);
    if (typeof h === 'number') {
      if (h === ENTRY_TERMINATOR) {
        terminated = true;
        break;
      }
      if (h === ENTRY_ZERO) {
        errors.zeroEntries++;
        pos += 4;
        continue;
      }
      // Trailing alignment padding (fewer than 4 zero bytes) is not an error.
      if (h === ENTRY_TRUNCATED && data.length - pos < 4 && data.subarray(pos).every((b) => b === 0)) break;
      if (h === ENTRY_BAD_LENGTH) errors.badLength++;
      else errors.truncated++;
      break;
    }
    const entryStart = pos;
    pos = h.end;
    if (h.idPos + h.idSize > h.end) {
      errors.badFde++;
      continue;
    }
    if (isCieId(data, h, kind)) {
      getCie(entryStart);
      continue;
    }
    const id = h.idSize === 8 ? data.readUInt32LE(h.idPos) + data.readUInt32LE(h.idPos + 4) * TWO32 : data.readUInt32LE(h.idPos);
    const cieOffset = kind === 'eh_frame' ? h.idPos - id : id;
    const ci = cieOffset >= 0 && cieOffset < data.length ? getCie(cieOffset) : -1;
    if (ci < 0) {
      errors.badCiePointer++;
      continue;
    }
    const cie = cies[ci];
    const c = new CfiCursor(data, h.idPos + h.idSize, h.end);
    c.skip(cie.segmentSize);
    const pcBegin = readEncodedPointer(c, cie.fdeEncoding, cie.addressSize, bases, true);
    const pcRange = readEncodedPointer(c, cie.fdeEncoding & 0x0f, cie.addressSize, bases, false);
    if (!c.ok) {
      errors.badFde++;
      continue;
    }
    if (pcBegin < 0 || pcRange < 0 || pcBegin + pcRange > MAX_SAFE) {
      errors.badPointer++;
      continue;
    }
    if (cie.hasAugmentationData) c.skip(c.uleb());
    if (!c.ok) {
      errors.badFde++;
      continue;
    }
    if (fdeCount >= maxFdes) {
      errors.fdeLimit++;
      continue;
    }
    offsets.set(fdeCount, entryStart);
    cieIdx.set(fdeCount, ci);
    begins.set(fdeCount, pcBegin);
    ends.set(fdeCount, pcBegin + pcRange);
    iStarts.set(fdeCount, c.pos);
    iEnds.set(fdeCount, h.end);
    fdeCount++;
  }

  return {
    kind,
    data,
    vaddr,
    cies,
    fdeCount,
    fdeOffset: offsets.arr.subarray(0, fdeCount),
    fdeCie: Int32Array.from(cieIdx.arr.subarray(0, fdeCount)),
    fdePcBegin: begins.arr.subarray(0, fdeCount),
    fdePcEnd: ends.arr.subarray(0, fdeCount),
    fdeInstructionsStart: iStarts.arr.subarray(0, fdeCount),
    fdeInstructionsEnd: iEnds.arr.subarray(0, fdeCount),
    terminated,
    errors,
  };
}

function isCieId(data: Buffer, h: EntryHeader, kind: CfiKind): boolean {
  if (h.idPos + h.idSize > h.end) return false;
  const lo = data.readUInt32LE(h.idPos);
  if (kind === 'eh_frame') return lo === 0;
  return lo === 0xffffffff && (h.idSize === 4 || data.readUInt32LE(h.idPos + 4) === 0xffffffff);
}

function parseCie(data: Buffer, offset: number, h: EntryHeader, kind: CfiKind, bases: PointerBases, errors: CfiErrors): Cie | undefined {
  const c = new CfiCursor(data, h.idPos + h.idSize, h.end);
  const version = c.u8();
  const versionOk = kind === 'eh_frame' ? version === 1 || version === 3 : version === 1 || version === 3 || version === 4;
  if (!versionOk) {
    errors.badCie++;
    return undefined;
  }
  const nul = data.indexOf(0, c.pos);
  if (nul < 0 || nul >= h.end || nul - c.pos > 64) {
    errors.badCie++;
    return undefined;
  }
  const augmentation = data.toString('latin1', c.pos, nul);
  c.pos = nul + 1;
  let addressSize = 8;
  let segmentSize = 0;
  if (augmentation.startsWith('eh')) c.skip(8); // pre-'z' GCC: the address of an exception table
  if (version === 4) {
    addressSize = c.u8();
    segmentSize = c.u8();
    if ((addressSize !== 4 && addressSize !== 8) || segmentSize > 8) {
      errors.badCie++;
      return undefined;
    }
  }
  const codeAlign = c.uleb();
  const dataAlign = c.sleb();
  const raRegister = version === 1 ? c.u8() : c.uleb();
  let fdeEncoding: number = DW_EH_PE.absptr;
  let lsdaEncoding: number = DW_EH_PE.omit;
  let signalFrame = false;
  const hasAugmentationData = augmentation.startsWith('z');
  if (hasAugmentationData) {
    const len = c.uleb();
    const augEnd = c.pos + len;
    if (!c.ok || augEnd > h.end) {
      errors.badCie++;
      return undefined;
    }
    const a = new CfiCursor(data, c.pos, augEnd);
    for (let i = 1; i < augmentation.length && a.ok; i++) {
      const ch = augmentation[i];
      if (ch === 'R') fdeEncoding = a.u8();
      else if (ch === 'L') lsdaEncoding = a.u8();
      else if (ch === 'P') {
        skipEncodedPointer(a, a.u8(), addressSize, bases.sectionVaddr);
      } else if (ch === 'S') signalFrame = true;
      else if (ch === 'B' || ch === 'G') continue;
      else break; // unknown: the rest of the augmentation data is skipped by its length
    }
    if (!a.ok) {
      errors.badCie++;
      return undefined;
    }
    c.pos = augEnd;
  } else if (augmentation !== '' && augmentation !== 'eh') {
    errors.unsupportedAugmentation++;
    return undefined;
  }
  if (!c.ok || !(codeAlign > 0) || codeAlign > MAX_SAFE) {
    errors.badCie++;
    return undefined;
  }
  if (kind === 'debug_frame') fdeEncoding = DW_EH_PE.absptr;
  return {
    offset,
    version,
    augmentation,
    codeAlign,
    dataAlign,
    raRegister,
    fdeEncoding,
    lsdaEncoding,
    hasAugmentationData,
    signalFrame,
    addressSize,
    segmentSize,
    instructionsStart: c.pos,
    instructionsEnd: h.end,
  };
}

/** FDE `i` as an object (for tests and diagnostics; the table builder reads the arrays). */
export function fdeAt(section: CfiSection, i: number): Fde {
  return {
    offset: section.fdeOffset[i],
    cie: section.fdeCie[i],
    pcBegin: section.fdePcBegin[i],
    pcEnd: section.fdePcEnd[i],
    instructionsStart: section.fdeInstructionsStart[i],
    instructionsEnd: section.fdeInstructionsEnd[i],
  };
}

// ---------------------------------------------------------------------------------------------------------
// The CFA program.

/** How the CFA is computed. */
export const CfaKind = { UNSET: 0, REG_OFFSET: 1, EXPRESSION: 2 } as const;

/** A register's rule. UNSET: no rule given (callee-saved registers keep their value by convention). */
export const RegRule = {
  UNSET: 0,
  UNDEFINED: 1,
  SAME_VALUE: 2,
  OFFSET: 3,
  VAL_OFFSET: 4,
  REGISTER: 5,
  EXPRESSION: 6,
  VAL_EXPRESSION: 7,
} as const;

/** Registers whose rules are tracked (DWARF x86-64 numbering: 0-15 general, 16 return address, 17-32 xmm). */
export const TRACKED_REGISTERS = 33;
/** Depth of DW_CFA_remember_state. */
export const MAX_REMEMBERED_STATES = 64;

const S_CFA_KIND = 0;
const S_CFA_REG = 1;
const S_CFA_VALUE = 2; // offset, or expression start
const S_CFA_EXPR_LEN = 3;
const S_REGS = 4;
const STATE_SIZE = S_REGS + 3 * TRACKED_REGISTERS;

/** The rules in effect at one location. Offsets are already multiplied by the data alignment factor. */
export class CfaState {
  readonly v = new Float64Array(STATE_SIZE);

  get cfaKind(): number {
    return this.v[S_CFA_KIND];
  }
  get cfaRegister(): number {
    return this.v[S_CFA_REG];
  }
  /** The offset of a REG_OFFSET CFA. */
  get cfaOffset(): number {
    return this.v[S_CFA_VALUE];
  }
  /** The DWARF expression of an EXPRESSION CFA: [start, start + length) in the section's data. */
  get cfaExpressionStart(): number {
    return this.v[S_CFA_VALUE];
  }
  get cfaExpressionLength(): number {
    return this.v[S_CFA_EXPR_LEN];
  }
  /** RegRule of `reg` (UNSET for untracked registers). */
  rule(reg: number): number {
    return reg >= 0 && reg < TRACKED_REGISTERS ? this.v[S_REGS + 3 * reg] : RegRule.UNSET;
  }
  /** OFFSET/VAL_OFFSET: the offset from the CFA; REGISTER: the register; (VAL_)EXPRESSION: the start. */
  ruleValue(reg: number): number {
    return reg >= 0 && reg < TRACKED_REGISTERS ? this.v[S_REGS + 3 * reg + 1] : 0;
  }
  ruleExpressionLength(reg: number): number {
    return reg >= 0 && reg < TRACKED_REGISTERS ? this.v[S_REGS + 3 * reg + 2] : 0;
  }
}

/** `work_limit`: the evaluator's budget of instruction bytes for its section was spent (see CfaEvaluator). */
export type CfaProgramError = 'truncated' | 'bad_opcode' | 'state_overflow' | 'state_underflow' | 'bad_location' | 'work_limit';

export interface CfaEvalResult {
  /** Rows passed to the visitor. */
  rows: number;
  /** Set when the program could not be followed to its end. */
  error?: CfaProgramError;
  /** Where the rules stop being known: rows cover [pcBegin, errorLoc) when `error` is set. */
  errorLoc: number;
}

/** Called once per row: the rules in `state` hold from `loc` to the next row's loc (or the FDE's end). */
export type CfaRowVisitor = (loc: number, state: CfaState) => void;

const DW_CFA_advance_loc = 0x40;
const DW_CFA_offset = 0x80;
const DW_CFA_restore = 0xc0;

/** CIE initial states kept per evaluator (824 bytes each); real sections have a handful of CIEs. */
const MAX_CACHED_CIE_STATES = 4096;

/**
 * Runs CIE and FDE programs. One evaluator serves many FDEs of one section (it reuses its state buffers).
 * Each visitor call gets the same CfaState object: copy what you keep.
 * Time is bounded by the section's size: a CIE's initial instructions run once and their resulting state is
 * reused by every FDE of that CIE (else one large CIE shared by a million FDEs would run a million times),
 * and the instruction bytes run in all are capped at a few times the section's size (`work_limit` past it).
 */
export class CfaEvaluator {
  private readonly state = new CfaState();
  private readonly initial = new Float64Array(STATE_SIZE);
  private readonly stack: Float64Array[] = [];
  private depth = 0;
  private readonly bases: PointerBases;
  private readonly cieStates = new Map<number, { state: Float64Array; error?: CfaProgramError }>();
  private work = 0;
  private readonly maxWork: number;

  constructor(private readonly section: CfiSection) {
    this.bases = { sectionVaddr: section.vaddr };
    this.maxWork = 4 * section.data.length + (1 << 20);
  }

  /** Evaluates FDE `fdeIndex` of the section, calling `visit` for each row inside [pcBegin, pcEnd). */
  evaluate(fdeIndex: number, visit: CfaRowVisitor): CfaEvalResult {
    const s = this.section;
    const cieIndex = s.fdeCie[fdeIndex];
    const cie = s.cies[cieIndex];
    const pcBegin = s.fdePcBegin[fdeIndex];
    const pcEnd = s.fdePcEnd[fdeIndex];
    let init = this.cieStates.get(cieIndex);
    if (!init) {
      if (!this.spend(cie.instructionsEnd - cie.instructionsStart)) return { rows: 0, error: 'work_limit', errorLoc: pcBegin };
      this.state.v.fill(0);
      this.depth = 0;
      const r0 = this.run(cie, cie.instructionsStart, cie.instructionsEnd, pcBegin, pcEnd, undefined);
      init = { state: Float64Array.from(this.state.v), error: r0.error };
      if (this.cieStates.size >= MAX_CACHED_CIE_STATES) this.cieStates.clear();
      this.cieStates.set(cieIndex, init);
    }
    if (init.error) return { rows: 0, error: init.error, errorLoc: pcBegin };
    const start = s.fdeInstructionsStart[fdeIndex];
    const end = s.fdeInstructionsEnd[fdeIndex];
    if (!this.spend(end - start)) return { rows: 0, error: 'work_limit', errorLoc: pcBegin };
    this.state.v.set(init.state);
    this.initial.set(init.state);
    this.depth = 0;
    return this.run(cie, start, end, pcBegin, pcEnd, visit);
  }

  /** Charges a program's bytes (and one for the call) to the budget; false when it is spent. */
  private spend(bytes: number): boolean {
    this.work += bytes + 1;
    return this.work <= this.maxWork;
  }

  /** Runs one program; `visit` undefined means the CIE's initial instructions (locations are ignored). */
  private run(cie: Cie, start: number, end: number, pcBegin: number, pcEnd: number, visit: CfaRowVisitor | undefined): CfaEvalResult {
    const v = this.state.v;
    const data = this.section.data;
    const c = new CfiCursor(data, start, end);
    const isCie = visit === undefined;
    const caf = cie.codeAlign;
    const daf = cie.dataAlign;
    let loc = pcBegin;
    let rows = 0;
    this.bases.funcVaddr = pcBegin;

    const setRule = (reg: number, kind: number, value: number, len: number): void => {
      if (reg < 0 || reg >= TRACKED_REGISTERS) return;
      const o = S_REGS + 3 * reg;
      v[o] = kind;
      v[o + 1] = value;
      v[o + 2] = len;
    };
    const restoreRule = (reg: number): void => {
      if (reg < 0 || reg >= TRACKED_REGISTERS) return;
      const o = S_REGS + 3 * reg;
      if (isCie) {
        v[o] = RegRule.UNSET;
        v[o + 1] = 0;
        v[o + 2] = 0;
      } else {
        v[o] = this.initial[o];
        v[o + 1] = this.initial[o + 1];
        v[o + 2] = this.initial[o + 2];
      }
    };
    // Moves to `next`; false when the FDE's range is done (or on a bad location, with `error` set).
    let error: CfaProgramError | undefined;
    const advance = (next: number): boolean => {
      if (isCie) return true;
      if (!(next >= loc) || next > MAX_SAFE) {
        error = 'bad_location';
        return false;
      }
      if (next > loc) {
        if (loc < pcEnd) {
          visit(loc, this.state);
          rows++;
        }
        loc = next;
      }
      return loc < pcEnd;
    };

    while (c.pos < c.end) {
      const op = c.u8();
      const high = op & 0xc0;
      const low = op & 0x3f;
      let done = false;
      let delta: number;
      let reg: number;
      let len: number;
      if (high === DW_CFA_advance_loc) done = !advance(loc + low * caf);
      else if (high === DW_CFA_offset) setRule(low, RegRule.OFFSET, c.uleb() * daf, 0);
      else if (high === DW_CFA_restore) restoreRule(low);
      else {
        switch (op) {
          case 0x00: // nop
            break;
          case 0x01: {
            // set_loc
            const at =
              this.section.kind === 'eh_frame'
                ? readEncodedPointer(c, cie.fdeEncoding, cie.addressSize, this.bases, true)
                : readPointerFormat(c, DW_EH_PE.absptr, cie.addressSize);
            // A CIE's locations are ignored (its state must not depend on the FDE that runs it first).
            if (!c.ok || isCie) break;
            if (!(at >= 0)) error = 'bad_location';
            else done = !advance(at);
            break;
          }
          case 0x02: // advance_loc1
          case 0x03: // advance_loc2
          case 0x04: // advance_loc4
          case 0x1d: // MIPS_advance_loc8
            delta = op === 0x02 ? c.u8() : op === 0x03 ? c.u16() : op === 0x04 ? c.u32() : c.u64();
            if (c.ok) done = !advance(loc + delta * caf);
            break;
          case 0x05: // offset_extended
          case 0x11: // offset_extended_sf
          case 0x2f: // GNU_negative_offset_extended
            reg = c.uleb();
            setRule(reg, RegRule.OFFSET, (op === 0x05 ? c.uleb() : op === 0x11 ? c.sleb() : -c.uleb()) * daf, 0);
            break;
          case 0x06: // restore_extended
            restoreRule(c.uleb());
            break;
          case 0x07: // undefined
            setRule(c.uleb(), RegRule.UNDEFINED, 0, 0);
            break;
          case 0x08: // same_value
            setRule(c.uleb(), RegRule.SAME_VALUE, 0, 0);
            break;
          case 0x09: // register
            reg = c.uleb();
            setRule(reg, RegRule.REGISTER, c.uleb(), 0);
            break;
          case 0x0a: // remember_state
            if (this.depth >= MAX_REMEMBERED_STATES) {
              error = 'state_overflow';
              break;
            }
            if (this.stack.length <= this.depth) this.stack.push(new Float64Array(STATE_SIZE));
            this.stack[this.depth++].set(v);
            break;
          case 0x0b: // restore_state
            if (this.depth === 0) {
              error = 'state_underflow';
              break;
            }
            v.set(this.stack[--this.depth]);
            break;
          case 0x0c: // def_cfa
          case 0x12: // def_cfa_sf
            reg = c.uleb();
            v[S_CFA_VALUE] = op === 0x0c ? c.uleb() : c.sleb() * daf;
            v[S_CFA_REG] = reg;
            v[S_CFA_KIND] = CfaKind.REG_OFFSET;
            v[S_CFA_EXPR_LEN] = 0;
            break;
          case 0x0d: // def_cfa_register: keeps the offset
            v[S_CFA_REG] = c.uleb();
            if (v[S_CFA_KIND] !== CfaKind.REG_OFFSET) {
              v[S_CFA_KIND] = CfaKind.REG_OFFSET;
              v[S_CFA_VALUE] = 0;
              v[S_CFA_EXPR_LEN] = 0;
            }
            break;
          case 0x0e: // def_cfa_offset: keeps the register
            v[S_CFA_VALUE] = c.uleb();
            if (v[S_CFA_KIND] !== CfaKind.REG_OFFSET) {
              v[S_CFA_KIND] = CfaKind.REG_OFFSET;
              v[S_CFA_EXPR_LEN] = 0;
            }
            break;
          case 0x13: // def_cfa_offset_sf
            v[S_CFA_VALUE] = c.sleb() * daf;
            if (v[S_CFA_KIND] !== CfaKind.REG_OFFSET) {
              v[S_CFA_KIND] = CfaKind.REG_OFFSET;
              v[S_CFA_EXPR_LEN] = 0;
            }
            break;
          case 0x0f: // def_cfa_expression
            len = c.uleb();
            if (!c.ok || c.pos + len > c.end) {
              c.ok = false;
              break;
            }
            v[S_CFA_KIND] = CfaKind.EXPRESSION;
            v[S_CFA_VALUE] = c.pos;
            v[S_CFA_EXPR_LEN] = len;
            c.pos += len;
            break;
          case 0x10: // expression
          case 0x16: // val_expression
            reg = c.uleb();
            len = c.uleb();
            if (!c.ok || c.pos + len > c.end) {
              c.ok = false;
              break;
            }
            setRule(reg, op === 0x10 ? RegRule.EXPRESSION : RegRule.VAL_EXPRESSION, c.pos, len);
            c.pos += len;
            break;
          case 0x14: // val_offset
            reg = c.uleb();
            setRule(reg, RegRule.VAL_OFFSET, c.uleb() * daf, 0);
            break;
          case 0x15: // val_offset_sf
            reg = c.uleb();
            setRule(reg, RegRule.VAL_OFFSET, c.sleb() * daf, 0);
            break;
          case 0x2e: // GNU_args_size
            c.uleb();
            break;
          default:
            error = 'bad_opcode';
        }
      }
      if (!c.ok && !error) error = 'truncated';
      if (error || done) break;
    }
    if (error) return { rows, error, errorLoc: loc };
    if (visit && loc < pcEnd) {
      visit(loc, this.state);
      rows++;
    }
    return { rows, errorLoc: pcEnd };
  }
}
