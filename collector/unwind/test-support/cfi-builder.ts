// Builds .eh_frame / .debug_frame bytes by hand for the parser's unit tests: each CIE and FDE laid out
// field by field as DWARF 4 §6.4.1 and the LSB describe them, so a test states exactly the bytes it feeds.

export function uleb(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

export function sleb(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

export function le(value: number | bigint, bytes: number): number[] {
  let v = BigInt.asUintN(bytes * 8, BigInt(value));
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

export interface CieSpec {
  version?: number;
  augmentation?: string;
  /** Bytes right after the augmentation string ('eh' pointer, or version 4's address/segment sizes). */
  afterAugmentation?: number[];
  codeAlign?: number;
  dataAlign?: number;
  ra?: number;
  /** Augmentation data (after its 'z' length), e.g. [fdeEncoding] for "zR". */
  augmentationData?: number[];
  instructions?: number[];
  is64?: boolean;
}

export interface FdeSpec {
  /** Offset of the CIE (as returned by `cie`). */
  cie: number;
  /** The address field's bytes, given the section offset where the field sits (for pcrel). */
  address: (fieldOffset: number) => number[];
  range: number[];
  /** Augmentation data; undefined when the CIE has no 'z'. */
  augmentationData?: number[];
  instructions?: number[];
  is64?: boolean;
  /** Bytes before the address (a v4 segment selector). */
  segment?: number[];
}

/** Lays out entries one after the other; `cie` and `fde` return the entry's section offset. */
export class CfiBuilder {
  readonly bytes: number[] = [];
  constructor(readonly kind: 'eh_frame' | 'debug_frame') {}

  private entry(is64: boolean, idBytes: (idPos: number) => number[], body: (bodyPos: number) => number[]): number {
    const start = this.bytes.length;
    const headerSize = is64 ? 12 : 4;
    const idPos = start + headerSize;
    const id = idBytes(idPos);
    const rest = body(idPos + id.length);
    const length = id.length + rest.length;
    const header = is64 ? [0xff, 0xff, 0xff, 0xff, ...le(length, 8)] : le(length, 4);
    for (const part of [header, id, rest]) append(this.bytes, part);
    return start;
  }

  cie(spec: CieSpec = {}): number {
    const is64 = spec.is64 ?? false;
    const version = spec.version ?? (this.kind === 'eh_frame' ? 1 : 3);
    const aug = spec.augmentation ?? (this.kind === 'eh_frame' ? 'zR' : '');
    const idBytes = () => (this.kind === 'eh_frame' ? le(0, 4) : is64 ? le(-1n, 8) : le(0xffffffff, 4));
    return this.entry(is64, idBytes, () => {
      const out = [version, ...Buffer.from(aug, 'latin1'), 0, ...(spec.afterAugmentation ?? [])];
      out.push(...uleb(spec.codeAlign ?? 1), ...sleb(spec.dataAlign ?? -8));
      out.push(...(version === 1 ? [spec.ra ?? 16] : uleb(spec.ra ?? 16)));
      if (aug.startsWith('z')) {
        const data = spec.augmentationData ?? (aug === 'zR' ? [0x1b] : []);
        out.push(...uleb(data.length), ...data);
      }
      append(out, spec.instructions ?? [0x0c, 7, 8, 0x90, 1]);
      return out;
    });
  }

  fde(spec: FdeSpec): number {
    const is64 = spec.is64 ?? false;
    const idBytes = (idPos: number) =>
      this.kind === 'eh_frame' ? le(idPos - spec.cie, 4) : is64 ? le(spec.cie, 8) : le(spec.cie, 4);
    return this.entry(is64, idBytes, (bodyPos) => {
      const seg = spec.segment ?? [];
      const out = [...seg, ...spec.address(bodyPos + seg.length), ...spec.range];
      if (spec.augmentationData) out.push(...uleb(spec.augmentationData.length), ...spec.augmentationData);
      append(out, spec.instructions ?? []);
      return out;
    });
  }

  /** An .eh_frame zero terminator, or a raw run of bytes. */
  raw(bytes: number[]): void {
    append(this.bytes, bytes);
  }

  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

/** Appends without spreading (programs in the tests run to a million bytes). */
function append(to: number[], from: number[]): void {
  for (let i = 0; i < from.length; i++) to.push(from[i]);
}

/** sdata4 pcrel address bytes for `target` (the common .eh_frame encoding 0x1b), for a section at `vaddr`. */
export function pcrel4(target: number, vaddr: number): (fieldOffset: number) => number[] {
  return (fieldOffset) => le(target - (vaddr + fieldOffset), 4);
}
