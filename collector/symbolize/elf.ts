// ELF64 little-endian reader: headers, PT_LOAD segments, GNU build-id, function symbols (STT_FUNC, STT_GNU_IFUNC,
// and sized STT_NOTYPE symbols in code sections, which is how hand-written assembly declares functions).
// Pure over a ByteSource so a caller can read only the parts it needs from a large file. Every read is
// bounds-checked; a malformed or truncated file gives `{ ok: false, error }`, never an exception. Symbol and
// string tables may be SHF_COMPRESSED (zlib), as in some detached debug files; `.gnu_debuglink` is read too;
// names lose their symbol version (`@GLIBC_2.2.5`).

import * as zlib from 'node:zlib';
import { type DebugLink, parseDebugLink } from './debug-link.js';
import { SymbolIndex, SymbolIndexBuilder } from './symbol-index.js';

/** Random access to the bytes of a file. `read` may return fewer bytes than asked at the end of the file. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
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
  /** Bytes retained for symbol names (the string tables). */
  retainedBytes: number;
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
  /** Cap on the size of one string table or symbol table read. */
  maxTableBytes?: number;
  /** Cap on one symbol name. */
  maxNameLength?: number;
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
    return { ok: true, elf: parseUnchecked(src, options) };
  } catch (err) {
    if (err instanceof ElfFormatError) return { ok: false, error: `parse ELF: ${err.message}` };
    return { ok: false, error: `parse ELF: ${(err as Error)?.message ?? String(err)}` };
  }
}

function parseUnchecked(src: ByteSource, options: ElfParseOptions): ElfFile {
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

  // Function symbols from .symtab and .dynsym, merged; one string buffer per table.
  const builder = new SymbolIndexBuilder({ maxSymbols: options.maxSymbols ?? 2_000_000 });
  const tables: Buffer[] = [];
  let hasSymtab = false;
  let hasDynsym = false;
  let retainedBytes = 0;
  if (!options.skipSymbols) {
    for (const s of sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      try {
        const added = readSymbols(src, s, sections, builder, tables, maxTable, s.type === SHT_SYMTAB ? 1 : 0);
        if (s.type === SHT_SYMTAB) hasSymtab = true;
        else hasDynsym = true;
        retainedBytes += added;
      } catch (err) {
        if (!(err instanceof ElfFormatError)) throw err;
        warnings.push(`${s.name || 'symbol table'}: ${err.message}`);
      }
    }
    if (builder.dropped > 0) warnings.push(`${builder.dropped} symbols dropped (limit or out of range)`);
  }
  const maxName = options.maxNameLength ?? 4096;
  // A size-0 symbol (hand-written assembly) covers up to the next symbol but not past the executable segment.
  const execEnd = execSegment ? execSegment.vaddr + execSegment.memsz : undefined;
  const index: SymbolIndex = builder.build((ref) => {
    const t = tables[Math.floor(ref / 2 ** 32)];
    return t ? withoutVersion(cString(t, ref % 2 ** 32, maxName)) : '';
  });

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

function readSymbols(
  src: ByteSource,
  symSec: ElfSection,
  sections: ElfSection[],
  builder: SymbolIndexBuilder,
  tables: Buffer[],
  maxTable: number,
  sourceRank: number,
): number {
  if (symSec.entsize !== 24n) fail(`symbol entry size ${symSec.entsize} != 24`);
  if (symSec.link <= 0 || symSec.link >= sections.length) fail(`bad string table link ${symSec.link}`);
  const strSec = sections[symSec.link];
  if (strSec.type !== SHT_STRTAB) fail(`linked section ${symSec.link} is not a string table`);
  const symData = readSection(src, symSec, 'symbols', maxTable);
  const syms = symData.subarray(0, symData.length - (symData.length % 24));
  const strs = readSection(src, strSec, 'string table', maxTable);
  const tableIndex = tables.length;
  tables.push(strs);
  const count = syms.length / 24;
  for (let i = 1; i < count; i++) {
    const o = i * 24;
    const info = syms[o + 4];
    const stType = info & 0xf;
    const shndx = syms.readUInt16LE(o + 6);
    // Hand-written assembly often declares functions as NOTYPE with a size: keep those when they sit in code.
    const isCode = stType === STT_FUNC || stType === STT_GNU_IFUNC;
    if (!isCode && !(stType === STT_NOTYPE && shndx < sections.length && (sections[shndx].flags & SHF_EXECINSTR) !== 0n)) continue;
    const value = syms.readBigUInt64LE(o + 8);
    if (shndx === 0 || value === 0n) continue; // undefined (imported) or placeholder
    const nameOff = syms.readUInt32LE(o);
    if (nameOff === 0 || nameOff >= strs.length) continue;
    const sizeBig = syms.readBigUInt64LE(o + 16);
    const size = sizeBig > MAX_SAFE ? 0 : Number(sizeBig);
    if (!isCode && size === 0) continue;
    const bind = info >> 4;
    const rank = (isCode ? 16 : 0) + (size > 0 ? 8 : 0) + (bind === STB_GLOBAL ? 4 : bind === STB_WEAK ? 2 : 0) + sourceRank;
    if (!builder.add(value, size, tableIndex * 2 ** 32 + nameOff, rank) && builder.full) break;
  }
  return strs.length;
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

/**
 * A `.symtab` name without its symbol version (`clock_nanosleep@GLIBC_2.2.5`, `__libc_start_main@@GLIBC_2.34`,
 * as glibc's own symbol table has them), so a function has the name `.dynsym` gives it, with or without a
 * debug file.
 */
function withoutVersion(name: string): string {
  const at = name.indexOf('@');
  return at > 0 ? name.slice(0, at) : name;
}

/** A NUL-terminated string at `off`, at most `max` bytes. */
function cString(buf: Buffer, off: number, max: number): string {
  if (off < 0 || off >= buf.length) return '';
  let end = buf.indexOf(0, off);
  if (end < 0 || end - off > max) end = Math.min(buf.length, off + max);
  return buf.toString('utf8', off, end);
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
