// The unwind row as the in-kernel unwinder reads it. Mirrors `struct unwind_row` and the enums `cfa_rule` and
// `rbp_rule` in programs/unwind.h: 16 bytes, little-endian, rows sorted by pc; the row for a pc is the last
// row whose pc is <= that pc.

/** sizeof(struct unwind_row). */
export const UNWIND_ROW_SIZE = 16;

/** Field offsets in struct unwind_row. */
export const UnwindRowOffsets = {
  /** __u64 pc: file-relative virtual address (ELF p_vaddr space) where the row starts. */
  PC: 0,
  /** __s32 cfa_offset: CFA = base register + cfa_offset (CFA_RSP, CFA_RBP). */
  CFA_OFFSET: 8,
  /** __s16 rbp_offset: with RBP_CFA_OFFSET, the caller's rbp is saved at CFA + rbp_offset. */
  RBP_OFFSET: 12,
  /** __u8 cfa_rule (CfaRule). */
  CFA_RULE: 14,
  /** __u8 rbp_rule (RbpRule). */
  RBP_RULE: 15,
} as const;

/** enum cfa_rule. */
export const CfaRule = {
  /** No information (a gap between FDEs, or a rule we do not support): the kernel takes a frame-pointer step. */
  NONE: 0,
  RSP: 1,
  RBP: 2,
  /** The .plt expression: CFA = rsp + 8 + ((rip & 15) >= 11 ? 8 : 0). */
  PLT1: 3,
  /** The same pattern with 10 instead of 11. */
  PLT2: 4,
  /** Outermost frame (the return address is undefined, e.g. _start, a thread's start): stop. */
  END: 5,
} as const;
export type CfaRule = (typeof CfaRule)[keyof typeof CfaRule];

/** enum rbp_rule. */
export const RbpRule = {
  UNCHANGED: 0,
  /** The caller's rbp is saved at CFA + rbp_offset. */
  CFA_OFFSET: 1,
  /** rbp is restored by a rule we do not support (register, expression, ...): the walk goes on, rbp unknown. */
  UNSUPPORTED: 2,
} as const;
export type RbpRule = (typeof RbpRule)[keyof typeof RbpRule];

export interface UnwindRow {
  pc: bigint;
  cfaRule: number;
  cfaOffset: number;
  rbpRule: number;
  rbpOffset: number;
}

/** Writes row `i` of a row buffer. `pc` must be a non-negative safe integer. */
export function writeUnwindRow(
  buf: Buffer,
  i: number,
  pc: number,
  cfaRule: number,
  cfaOffset: number,
  rbpRule: number,
  rbpOffset: number,
): void {
  const o = i * UNWIND_ROW_SIZE;
  buf.writeUInt32LE(pc % 0x1_0000_0000, o);
  buf.writeUInt32LE(Math.floor(pc / 0x1_0000_0000), o + 4);
  buf.writeInt32LE(cfaOffset, o + UnwindRowOffsets.CFA_OFFSET);
  buf.writeInt16LE(rbpOffset, o + UnwindRowOffsets.RBP_OFFSET);
  buf[o + UnwindRowOffsets.CFA_RULE] = cfaRule;
  buf[o + UnwindRowOffsets.RBP_RULE] = rbpRule;
}

/** Row `i` of a row buffer (n * UNWIND_ROW_SIZE bytes). */
export function readUnwindRow(rows: Buffer, i: number): UnwindRow {
  const o = i * UNWIND_ROW_SIZE;
  return {
    pc: rows.readBigUInt64LE(o),
    cfaOffset: rows.readInt32LE(o + UnwindRowOffsets.CFA_OFFSET),
    rbpOffset: rows.readInt16LE(o + UnwindRowOffsets.RBP_OFFSET),
    cfaRule: rows[o + UnwindRowOffsets.CFA_RULE],
    rbpRule: rows[o + UnwindRowOffsets.RBP_RULE],
  };
}

/** The pc of row `i` as a number (file addresses are below 2^53). */
export function unwindRowPc(rows: Buffer, i: number): number {
  const o = i * UNWIND_ROW_SIZE;
  return rows.readUInt32LE(o) + rows.readUInt32LE(o + 4) * 0x1_0000_0000;
}

/**
 * Index of the row that covers `pc` (the last row whose pc is <= pc), or -1 when pc is below the first row:
 * the same binary search the kernel does.
 */
export function findUnwindRow(rows: Buffer, count: number, pc: bigint | number): number {
  const target = typeof pc === 'bigint' ? Number(pc) : pc;
  let lo = 0;
  let hi = count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (unwindRowPc(rows, mid) <= target) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
