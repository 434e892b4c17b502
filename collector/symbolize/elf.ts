// ELF64 little-endian reader: headers, PT_LOAD segments, GNU build-id, function symbols (STT_FUNC, STT_GNU_IFUNC,
// and sized STT_NOTYPE symbols in code sections, which is how hand-written assembly declares functions).
// Pure over a ByteSource so a caller can read only the parts it needs from a large file. Every read is
// bounds-checked; a malformed or truncated file gives `{ ok: false, error }`, never an exception. Symbol and
// string tables may be SHF_COMPRESSED (zlib), as in some detached debug files; `.gnu_debuglink` is read too;
// names lose their symbol version (`@GLIBC_2.2.5`).
// Memory and time are bounded for hostile files: one `.symtab` and one `.dynsym` at most, each read once in
// chunks; of a string table only the names the kept symbols point at are read (a 256 MiB table that is one
// hole costs a few reads), copied into one compact buffer that is all the result keeps; what the result
// retains (`retainedBytes`: names, the address index, sections) stops growing at `maxRetainedBytes`.

import * as zlib from 'node:zlib';
import { type DebugLink, parseDebugLink } from './debug-link.js';
import { SymbolIndex, SymbolIndexBuilder } from './symbol-index.js';

/** Random access to the bytes of a file. `read` may return fewer bytes than asked at the end of the file. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
  /**
   * As `read`, into a buffer the source keeps for `slot` (0 or 1) and reuses: the bytes are valid until the next
   * call with the same slot. For reads used at once and dropped (symbol chunks, string-table windows): a fresh
   * buffer for each left tens of MiB of garbage per large file, resident until V8 collected it.
   */
  readTransient?(slot: 0 | 1, offset: number, length: number): Buffer;
}

/** `src.readTransient` when it has one, else `src.read`. */
export function readTransient(src: ByteSource, slot: 0 | 1, offset: number, length: number): Buffer {
  return src.readTransient ? src.readTransient(slot, offset, length) : src.read(offset, length);
}

export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read: (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
  };
}

export type ElfType = 'exec' | 'dyn' | 'rel' | 'core' | 'other';

export interface ElfSegment {
  /** p_type (PT_LOAD = 1, PT_NOTE = 4, ...). */
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: bigint;
  size: bigint;
  link: number;
  entsize: bigint;
}

export interface ElfSymbolHit {
  name: string;
  /** Symbol start (ELF virtual address). */
  address: bigint;
  size: number;
}

export interface ElfFile {
  type: ElfType;
  machine: number;
  entry: bigint;
  /** PT_LOAD segments in file order. */
  loads: ElfSegment[];
  /** First executable PT_LOAD, the range pprof mappings describe. */
  execSegment?: ElfSegment;
  sections: ElfSection[];
  /** GNU build-id, lowercase hex, '' when absent. */
  buildId: string;
  hasSymtab: boolean;
  hasDynsym: boolean;
  /** The `.gnu_debuglink` section: name and CRC32 of the detached debug file. */
  debugLink?: DebugLink;
  /** Function symbols kept (after de-duplication by address). */
  symbolCount: number;
  /** Estimated bytes the result keeps alive: symbol names, the address index, sections and segments. */
  retainedBytes: number;
  /** Bytes read from the source while parsing (headers, symbol tables, the parts of string tables used). */
  bytesRead: number;
  /** Symbols were dropped to stay within maxRetainedBytes. */
  retainedLimitReached: boolean;
  /** Problems that left the result partial (a bad symbol table, a truncated note, ...). */
  warnings: string[];
  lookup(vaddr: bigint): ElfSymbolHit | undefined;
  fileOffsetToVaddr(offset: bigint): bigint | undefined;
  vaddrToFileOffset(vaddr: bigint): bigint | undefined;
}

export type ElfResult = { ok: true; elf: ElfFile } | { ok: false; error: string };

export interface ElfParseOptions {
  /** Cap on symbols read from all symbol tables together. */
  maxSymbols?: number;
  /** Cap on the declared size of one string table or symbol table (and on an inflated one). */
  maxTableBytes?: number;
  /** Cap on one symbol name. */
  maxNameLength?: number;
  /** Cap on `retainedBytes`: symbols past it are dropped (a warning says how many). Default 64 MiB. */
  maxRetainedBytes?: number;
  /** Skip symbol tables (headers and build-id only). */
  skipSymbols?: boolean;
}

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const STT_NOTYPE = 0;
const STT_FUNC = 2;
const SHF_EXECINSTR = 4n;
const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;
const CHDR_SIZE = 24;
const MAX_DEBUGLINK_BYTES = 4096;
const STT_GNU_IFUNC = 10;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const NT_GNU_BUILD_ID = 3;
const MAX_NOTE_BYTES = 1 << 16;
const MAX_SECTIONS = 1 << 16;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const SYM_SIZE = 24;
/** Symbol entries read per chunk (about 1 MiB). */
const SYM_CHUNK = 43_690;
/** Symbols per table are below this (maxSymbols is capped to it), so offset * ORDER_SHIFT + index is exact. */
const ORDER_SHIFT = 2 ** 21;
/** Bytes of a string table read at a time around the names needed. */
const STR_CHUNK = 256 << 10;
/** Estimated bytes per kept symbol in the address index (three Float64Arrays). */
const INDEX_BYTES_PER_SYMBOL = 24;
/** Estimated bytes of one section or segment object with its name. */
const HEADER_OBJECT_BYTES = 200;

class ElfFormatError extends Error {}

function fail(msg: string): never {
  throw new ElfFormatError(msg);
}

/** Reads exactly `length` bytes at a BigInt offset or throws ElfFormatError (caught inside parseElf). */
function readExact(src: ByteSource, offset: bigint, length: bigint, what: string, cap: number): Buffer {
  if (offset < 0n || length < 0n) fail(`${what}: negative offset or size`);
  if (length > BigInt(cap)) fail(`${what}: size ${length} exceeds limit ${cap}`);
  if (offset + length > BigInt(src.size)) fail(`${what}: range ${offset}+${length} past end of file (${src.size} bytes)`);
  const buf = src.read(Number(offset), Number(length));
  if (buf.length !== Number(length)) fail(`${what}: short read (${buf.length} of ${length} bytes)`);
  return buf;
}

/** Parses an ELF64 little-endian image. Never throws. */
export function parseElf(src: ByteSource, options: ElfParseOptions = {}): ElfResult {
  try {
    return { ok: true, elf: parseUnchecked(countingSource(src), options) };
  } catch (err) {
    if (err instanceof ElfFormatError) return { ok: false, error: `parse ELF: ${err.message}` };
    return { ok: false, error: `parse ELF: ${(err as Error)?.message ?? String(err)}` };
  }
}

/** `src` with a count of the bytes read through it. */
interface CountingSource extends ByteSource {
  bytesRead: number;
}

function countingSource(src: ByteSource): CountingSource {
  const counted: CountingSource = {
    size: src.size,
    bytesRead: 0,
    read(offset, length) {
      const b = src.read(offset, length);
      counted.bytesRead += b.length;
      return b;
    },
    readTransient(slot, offset, length) {
      const b = readTransient(src, slot, offset, length);
      counted.bytesRead += b.length;
      return b;
    },
  };
  return counted;
}

function parseUnchecked(src: CountingSource, options: ElfParseOptions): ElfFile {
  const maxTable = options.maxTableBytes ?? 256 << 20;
  const warnings: string[] = [];
  if (src.size < 64) fail(`file too small for an ELF header (${src.size} bytes)`);
  const h = readExact(src, 0n, 64n, 'ELF header', 64);
  if (h.readUInt32BE(0) !== 0x7f454c46) fail('bad magic (not an ELF file)');
  if (h[4] !== 2) fail(`unsupported class ${h[4]} (only ELF64)`);
  if (h[5] !== 1) fail(`unsupported data encoding ${h[5]} (only little-endian)`);
  const eType = h.readUInt16LE(16);
  const type: ElfType = eType === 2 ? 'exec' : eType === 3 ? 'dyn' : eType === 1 ? 'rel' : eType === 4 ? 'core' : 'other';
  const machine = h.readUInt16LE(18);
  const entry = h.readBigUInt64LE(24);
  const phoff = h.readBigUInt64LE(32);
  const shoff = h.readBigUInt64LE(40);
  const phentsize = h.readUInt16LE(54);
  const phnum = h.readUInt16LE(56);
  const shentsize = h.readUInt16LE(58);
  let shnum = h.readUInt16LE(60);
  let shstrndx = h.readUInt16LE(62);

  // Program headers.
  const segments: ElfSegment[] = [];
  if (phnum > 0) {
    if (phentsize < 56) fail(`program header entry size ${phentsize} < 56`);
    const ph = readExact(src, phoff, BigInt(phnum * phentsize), 'program headers', 1 << 22);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push({
        type: ph.readUInt32LE(o),
        flags: ph.readUInt32LE(o + 4),
        offset: ph.readBigUInt64LE(o + 8),
        vaddr: ph.readBigUInt64LE(o + 16),
        filesz: ph.readBigUInt64LE(o + 32),
        memsz: ph.readBigUInt64LE(o + 40),
      });
    }
  }
  const loads = segments.filter((s) => s.type === PT_LOAD);
  const execSegment = loads.find((s) => (s.flags & PF_X) !== 0);

  // Section headers (optional: a file may have none). Extended numbering keeps the real counts in section 0.
  const sections: ElfSection[] = [];
  const nameOffs: number[] = [];
  if (shoff !== 0n) {
    if (shentsize < 64) fail(`section header entry size ${shentsize} < 64`);
    const first = readExact(src, shoff, 64n, 'section header 0', 64);
    if (shnum === 0) shnum = Number(first.readBigUInt64LE(32) > BigInt(MAX_SECTIONS) ? MAX_SECTIONS + 1 : first.readBigUInt64LE(32));
    if (shstrndx === 0xffff) shstrndx = first.readUInt32LE(40);
    if (shnum > MAX_SECTIONS) fail(`too many sections (${shnum})`);
    const sh = readExact(src, shoff, BigInt(shnum * shentsize), 'section headers', 1 << 24);
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      nameOffs.push(sh.readUInt32LE(o));
      sections.push({
        name: '',
        type: sh.readUInt32LE(o + 4),
        flags: sh.readBigUInt64LE(o + 8),
        addr: sh.readBigUInt64LE(o + 16),
        offset: sh.readBigUInt64LE(o + 24),
        size: sh.readBigUInt64LE(o + 32),
        link: sh.readUInt32LE(o + 40),
        entsize: sh.readBigUInt64LE(o + 56),
      });
    }
    if (shstrndx > 0 && shstrndx < shnum) {
      try {
        const ss = sections[shstrndx];
        const names = readExact(src, ss.offset, ss.size, 'section name table', 1 << 24);
        sections.forEach((s, i) => (s.name = cString(names, nameOffs[i], 256)));
      } catch (err) {
        if (!(err instanceof ElfFormatError)) throw err;
        warnings.push(err.message);
      }
    }
  }

  // Build-id: notes from PT_NOTE segments first (present even when section headers are stripped).
  let buildId = '';
  const noteSources: Array<{ offset: bigint; size: bigint; what: string }> = [
    ...segments.filter((s) => s.type === PT_NOTE).map((s) => ({ offset: s.offset, size: s.filesz, what: 'PT_NOTE' })),
    ...sections.filter((s) => s.type === SHT_NOTE).map((s) => ({ offset: s.offset, size: s.size, what: `section ${s.name || 'note'}` })),
  ];
  for (const n of noteSources) {
    if (buildId) break;
    try {
      const buf = readExact(src, n.offset, n.size, n.what, MAX_NOTE_BYTES);
      buildId = parseElfNotes(buf).buildId;
    } catch (err) {
      if (!(err instanceof ElfFormatError)) throw err;
      warnings.push(err.message);
    }
  }

  let debugLink: DebugLink | undefined;
  const linkSec = sections.find((s) => s.name === '.gnu_debuglink' && s.type !== SHT_NOBITS);
  if (linkSec) {
    try {
      debugLink = parseDebugLink(readExact(src, linkSec.offset, linkSec.size, '.gnu_debuglink', MAX_DEBUGLINK_BYTES));
      if (!debugLink) warnings.push('.gnu_debuglink: malformed');
    } catch (err) {
      if (!(err instanceof ElfFormatError)) throw err;
      warnings.push(err.message);
    }
  }

  // Function symbols from the first .symtab and the first .dynsym, merged; names in one compact buffer.
  const maxSymbols = options.maxSymbols ?? 2_000_000;
  const maxName = options.maxNameLength ?? 4096;
  const headerBytes = (sections.length + segments.length) * HEADER_OBJECT_BYTES;
  const builder = new SymbolIndexBuilder({ maxSymbols });
  const names = new NameStore(Math.max(0, (options.maxRetainedBytes ?? 64 << 20) - headerBytes));
  let hasSymtab = false;
  let hasDynsym = false;
  if (!options.skipSymbols) {
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const tables = sections.filter((x) => x.type === type);
      if (tables.length > 1) warnings.push(`${tables.length - 1} extra ${type === SHT_SYMTAB ? 'SHT_SYMTAB' : 'SHT_DYNSYM'} sections ignored`);
      const sec = tables[0];
      if (!sec) continue;
      try {
        readSymbols(src, sec, sections, builder, names, maxTable, maxName, type === SHT_SYMTAB ? 1 : 0);
        if (type === SHT_SYMTAB) hasSymtab = true;
        else hasDynsym = true;
      } catch (err) {
        if (!(err instanceof ElfFormatError)) throw err;
        warnings.push(`${sec.name || 'symbol table'}: ${err.message}`);
      }
    }
    if (builder.dropped > 0) warnings.push(`${builder.dropped} symbols dropped (limit or out of range)`);
    if (names.dropped > 0) warnings.push(`${names.dropped} symbols dropped (retained bytes limit)`);
  }
  // A size-0 symbol (hand-written assembly) covers up to the next symbol but not past the executable segment.
  const execEnd = execSegment ? execSegment.vaddr + execSegment.memsz : undefined;
  const store = names.finish();
  const index: SymbolIndex = builder.build((ref) => cString(store, ref, maxName));
  const retainedBytes = headerBytes + store.length + index.length * INDEX_BYTES_PER_SYMBOL;

  return {
    type,
    machine,
    entry,
    loads,
    execSegment,
    sections,
    buildId,
    hasSymtab,
    hasDynsym,
    debugLink,
    symbolCount: index.length,
    retainedBytes,
    bytesRead: src.bytesRead,
    retainedLimitReached: names.dropped > 0,
    warnings,
    lookup(vaddr) {
      const hit = index.lookup(vaddr);
      if (!hit || (hit.size === 0 && execEnd !== undefined && vaddr >= execEnd)) return undefined;
      return { name: hit.name, address: hit.address, size: hit.size };
    },
    fileOffsetToVaddr(offset) {
      const seg = loads.find((s) => offset >= s.offset && offset < s.offset + s.filesz);
      return seg ? offset - seg.offset + seg.vaddr : undefined;
    },
    vaddrToFileOffset(vaddr) {
      const seg = loads.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
      return seg ? vaddr - seg.vaddr + seg.offset : undefined;
    },
  };
}

/**
 * Names of the symbols kept, one after the other (NUL-terminated, without their symbol version), in a buffer
 * that grows up to `cap` bytes together with the index the symbols cost; symbols past it are dropped.
 */
class NameStore {
  private buf = Buffer.alloc(0);
  private used = 0;
  private symbols = 0;
  dropped = 0;

  constructor(private readonly cap: number) {}

  /** Room for one more symbol whose name is `nameBytes` long. */
  fits(nameBytes: number): boolean {
    return this.used + nameBytes + 1 + (this.symbols + 1) * INDEX_BYTES_PER_SYMBOL <= this.cap;
  }

  /** Appends bytes [start, end) of `src` as a name; returns its reference. Call `fits` first. */
  add(src: Buffer, start: number, end: number): number {
    const n = end - start;
    if (this.used + n + 1 > this.buf.length) {
      const next = Buffer.alloc(Math.min(Math.max(this.buf.length * 2, this.used + n + 1, 4096), Math.max(this.cap, this.used + n + 1)));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    const ref = this.used;
    const buf = this.buf;
    // Most names are short: a loop beats Buffer.copy's per-call cost.
    if (n < 64) for (let i = 0; i < n; i++) buf[ref + i] = src[start + i];
    else src.copy(buf, ref, start, end);
    buf[ref + n] = 0;
    this.used += n + 1;
    return ref;
  }

  /** One more symbol shares a name already stored (its index entry still counts). */
  count(): void {
    this.symbols++;
  }

  /** The names, in a buffer of exactly their size (the growing one is dropped). */
  finish(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.used));
    this.buf = Buffer.alloc(0);
    return out;
  }
}

/** A string table read on demand, a window at a time (or whole, when it had to be inflated). */
class StringTable {
  /** After `seek`: the string is bytes [start, end) of buf. */
  buf: Buffer;
  start = 0;
  end = 0;
  private windowStart = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly offset: number,
    readonly size: number,
    private readonly inflated?: Buffer,
  ) {
    this.buf = inflated ?? Buffer.alloc(0);
  }

  /** Positions start and end on the NUL-terminated string at `off`, at most `max` bytes of it. */
  seek(off: number, max: number): void {
    if (!this.inflated) {
      const start = off - this.windowStart;
      const inWindow = start >= 0 && start < this.buf.length;
      const end = inWindow ? cStringEnd(this.buf, start, max) : 0;
      // Refill unless the whole name (or `max` bytes of it) is inside the window.
      if (!inWindow || (end === this.buf.length && end - start < max && this.windowStart + end < this.size)) {
        this.buf = readTransient(this.src, 1, this.offset + off, Math.min(this.size - off, Math.max(STR_CHUNK, max + 1)));
        this.windowStart = off;
        this.start = 0;
        this.end = cStringEnd(this.buf, 0, max);
        return;
      }
      this.start = start;
      this.end = end;
      return;
    }
    this.start = off;
    this.end = cStringEnd(this.buf, off, max);
  }
}

function readSymbols(
  src: ByteSource,
  symSec: ElfSection,
  sections: ElfSection[],
  builder: SymbolIndexBuilder,
  names: NameStore,
  maxTable: number,
  maxName: number,
  sourceRank: number,
): void {
  if (symSec.entsize !== BigInt(SYM_SIZE)) fail(`symbol entry size ${symSec.entsize} != ${SYM_SIZE}`);
  if (symSec.link <= 0 || symSec.link >= sections.length) fail(`bad string table link ${symSec.link}`);
  const strSec = sections[symSec.link];
  if (strSec.type !== SHT_STRTAB) fail(`linked section ${symSec.link} is not a string table`);
  const strs = openStringTable(src, strSec, maxTable);

  // Pass 1: the function symbols, in chunks of the table.
  let cap = 1024;
  let addr = new Float64Array(cap);
  let size = new Float64Array(cap);
  let nameOff = new Uint32Array(cap);
  let rank = new Uint8Array(cap);
  let n = 0;
  const room = Math.max(0, Math.min(ORDER_SHIFT - 1, builder.maxSymbols - builder.count));
  forEachSymbolChunk(src, symSec, maxTable, (syms, first) => {
    const count = syms.length / SYM_SIZE;
    for (let i = first ? 1 : 0; i < count && n < room; i++) {
      const o = i * SYM_SIZE;
      const info = syms[o + 4];
      const stType = info & 0xf;
      const shndx = syms.readUInt16LE(o + 6);
      // Hand-written assembly often declares functions as NOTYPE with a size: keep those when they sit in code.
      const isCode = stType === STT_FUNC || stType === STT_GNU_IFUNC;
      if (!isCode && !(stType === STT_NOTYPE && shndx < sections.length && (sections[shndx].flags & SHF_EXECINSTR) !== 0n)) continue;
      const value = syms.readBigUInt64LE(o + 8);
      if (shndx === 0 || value === 0n || value > MAX_SAFE) continue; // undefined (imported), placeholder, or not indexable
      const off = syms.readUInt32LE(o);
      if (off === 0 || off >= strs.size) continue;
      const sizeBig = syms.readBigUInt64LE(o + 16);
      const sz = sizeBig > MAX_SAFE ? 0 : Number(sizeBig);
      if (!isCode && sz === 0) continue;
      const bind = info >> 4;
      if (n === cap) {
        cap *= 2;
        addr = grow(addr, new Float64Array(cap));
        size = grow(size, new Float64Array(cap));
        nameOff = grow(nameOff, new Uint32Array(cap));
        rank = grow(rank, new Uint8Array(cap));
      }
      addr[n] = Number(value);
      size[n] = sz;
      nameOff[n] = off;
      rank[n] = (isCode ? 16 : 0) + (sz > 0 ? 8 : 0) + (bind === STB_GLOBAL ? 4 : bind === STB_WEAK ? 2 : 0) + sourceRank;
      n++;
    }
    return n < room;
  });
  if (n >= room) builder.dropped++;

  // Pass 2: their names, in string-table order so each part of the table is read once. Sorted as one number
  // per symbol (name offset * 2^21 + index: below 2^53 as n < 2^21), which a typed array sorts natively.
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = nameOff[i] * ORDER_SHIFT + i;
  order.sort();
  let prevOff = -1;
  let prevRef = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k] % ORDER_SHIFT;
    const off = nameOff[i];
    let ref = prevRef;
    if (off !== prevOff) {
      strs.seek(off, maxName);
      const { buf, start } = strs;
      const end = versionStart(buf, start, strs.end);
      if (end === start) continue;
      if (!names.fits(end - start)) {
        names.dropped += n - k;
        break;
      }
      ref = names.add(buf, start, end);
      prevOff = off;
      prevRef = ref;
    } else if (!names.fits(0)) {
      names.dropped += n - k;
      break;
    }
    names.count();
    if (!builder.addOffset(addr[i], size[i], ref, rank[i]) && builder.full) break;
  }
}

/** Where a `.symtab` name's symbol version (`@GLIBC_2.2.5`, `@@GLIBC_2.34`) starts, or `end`. */
function versionStart(buf: Buffer, start: number, end: number): number {
  for (let i = start + 1; i < end; i++) if (buf[i] === 0x40) return i;
  return end;
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * Calls `each` with consecutive chunks of a symbol table (whole entries), until it returns false. An
 * SHF_COMPRESSED table is inflated whole (at most `cap` bytes).
 */
function forEachSymbolChunk(src: ByteSource, sec: ElfSection, cap: number, each: (syms: Buffer, first: boolean) => boolean): void {
  if ((sec.flags & SHF_COMPRESSED) !== 0n) {
    const data = readSection(src, sec, 'symbols', cap);
    each(data.subarray(0, data.length - (data.length % SYM_SIZE)), true);
    return;
  }
  if (sec.offset < 0n || sec.size > BigInt(cap)) fail(`symbols: size ${sec.size} exceeds limit ${cap}`);
  if (sec.offset + sec.size > BigInt(src.size)) fail(`symbols: range ${sec.offset}+${sec.size} past end of file (${src.size} bytes)`);
  const total = Number(sec.size) - (Number(sec.size) % SYM_SIZE);
  const start = Number(sec.offset);
  for (let pos = 0; pos < total; pos += SYM_CHUNK * SYM_SIZE) {
    const len = Math.min(SYM_CHUNK * SYM_SIZE, total - pos);
    const chunk = readTransient(src, 0, start + pos, len);
    if (chunk.length !== len) fail(`symbols: short read (${chunk.length} of ${len} bytes)`);
    if (!each(chunk, pos === 0)) return;
  }
}

/** A string table for on-demand reads; an SHF_COMPRESSED one is inflated whole (at most `cap` bytes). */
function openStringTable(src: ByteSource, sec: ElfSection, cap: number): StringTable {
  if ((sec.flags & SHF_COMPRESSED) !== 0n) {
    const data = readSection(src, sec, 'string table', cap);
    return new StringTable(src, 0, data.length, data);
  }
  if (sec.size > BigInt(cap)) fail(`string table: size ${sec.size} exceeds limit ${cap}`);
  if (sec.offset + sec.size > BigInt(src.size)) fail(`string table: range ${sec.offset}+${sec.size} past end of file (${src.size} bytes)`);
  return new StringTable(src, Number(sec.offset), Number(sec.size));
}

/**
 * The contents of a section, inflated when it is SHF_COMPRESSED (an Elf64_Chdr, then zlib data); at most
 * `cap` bytes read and at most `cap` bytes inflated.
 */
function readSection(src: ByteSource, sec: ElfSection, what: string, cap: number): Buffer {
  if ((sec.flags & SHF_COMPRESSED) === 0n) return readExact(src, sec.offset, sec.size, what, cap);
  if (sec.size < BigInt(CHDR_SIZE)) fail(`${what}: compressed section smaller than its header`);
  const data = readExact(src, sec.offset, sec.size, what, cap);
  const chType = data.readUInt32LE(0);
  const chSize = data.readBigUInt64LE(8);
  if (chType !== ELFCOMPRESS_ZLIB) fail(`${what}: compression type ${chType} not supported (only zlib)`);
  if (chSize === 0n || chSize > BigInt(cap)) fail(`${what}: uncompressed size ${chSize} out of range (limit ${cap})`);
  let out: Buffer;
  try {
    out = zlib.inflateSync(data.subarray(CHDR_SIZE), { maxOutputLength: Number(chSize) });
  } catch (err) {
    fail(`${what}: inflate: ${(err as Error).message}`);
  }
  if (out.length !== Number(chSize)) fail(`${what}: inflated to ${out.length} bytes, header says ${chSize}`);
  return out;
}

/** A NUL-terminated string at `off`, at most `max` bytes. */
function cString(buf: Buffer, off: number, max: number): string {
  if (off < 0 || off >= buf.length) return '';
  return buf.toString('utf8', off, cStringEnd(buf, off, max));
}

/** End of the NUL-terminated string at `off`: its NUL, `off + max`, or the end of `buf`, whichever is first. */
function cStringEnd(buf: Buffer, off: number, max: number): number {
  const limit = Math.min(buf.length, off + max);
  for (let i = off; i < limit; i++) if (buf[i] === 0) return i;
  return limit;
}

/** Parses an ELF note area (PT_NOTE contents, `.note.*` sections, /sys/kernel/notes). Never throws. */
export function parseElfNotes(buf: Buffer): { buildId: string } {
  let o = 0;
  for (let guard = 0; guard < 4096 && o + 12 <= buf.length; guard++) {
    const namesz = buf.readUInt32LE(o);
    const descsz = buf.readUInt32LE(o + 4);
    const type = buf.readUInt32LE(o + 8);
    const nameStart = o + 12;
    const descStart = nameStart + align4(namesz);
    const next = descStart + align4(descsz);
    if (namesz > buf.length || descsz > buf.length || descStart + descsz > buf.length) break;
    if (type === NT_GNU_BUILD_ID && namesz === 4 && buf.toString('latin1', nameStart, nameStart + 3) === 'GNU' && descsz > 0 && descsz <= 64) {
      return { buildId: buf.toString('hex', descStart, descStart + descsz) };
    }
    if (next <= o) break;
    o = next;
  }
  return { buildId: '' };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
