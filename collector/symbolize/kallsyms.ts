// /proc/kallsyms parser: text symbols (t/T/w/W) of the kernel and its modules, sorted for address lookup.
// Names are kept in one string (about 3.5 MB for 100k symbols, where 100k separate strings took 14 MB of heap
// and were marked by every full garbage collection) with their offsets in a typed array; the 10+ MB text is
// not kept alive.

import { detachString } from './detach-string.js';
import { SymbolIndex, SymbolIndexBuilder } from './symbol-index.js';

export interface KallsymsOptions {
  /** Cap on symbols kept (a 6.x kernel with modules has about 150k text symbols). */
  maxSymbols?: number;
  /** Cap on the input size in characters; the rest is ignored and reported as truncated. */
  maxChars?: number;
}

export interface KernelSymbol {
  name: string;
  /** Module name without brackets (`ext4`), undefined for the core kernel. */
  module?: string;
  address: bigint;
}

export interface KallsymsTable {
  /** True when every address read as zero: kernel.kptr_restrict hides them from this reader. */
  restricted: boolean;
  symbolCount: number;
  malformedLines: number;
  truncated: boolean;
  /** Lowest and highest text symbol address; undefined when there are none. */
  range?: { min: bigint; max: bigint };
  lookup(address: bigint): KernelSymbol | undefined;
}

/** Kernel symbols carry no size; one covers up to the next symbol, bounded so stray addresses stay unnamed. */
const MAX_SIZELESS_SPAN = 1 << 20;
const MAX_NAME = 512;

/** Parses the text of /proc/kallsyms. Never throws. */
export function parseKallsyms(text: string, options: KallsymsOptions = {}): KallsymsTable {
  const maxChars = options.maxChars ?? 64 << 20;
  const truncated = text.length > maxChars;
  const len = Math.min(text.length, maxChars);
  const maxSymbols = options.maxSymbols ?? 2_000_000;
  // One pass over the characters, no string or BigInt per line (the line-by-line parse allocated ~36 MB of
  // garbage for 120k lines, all of it resident at the first window): addresses as two 32-bit halves, names as
  // bytes copied into one buffer decoded once at the end.
  let cap = 1 << 14;
  let hiOf = new Uint32Array(cap);
  let loOf = new Uint32Array(cap);
  let nameEnd = new Uint32Array(cap);
  let modOf = new Uint16Array(cap);
  let rankOf = new Uint8Array(cap);
  let nameBytes = Buffer.allocUnsafe(1 << 20);
  let nameUsed = 0;
  let n = 0;
  let malformed = 0;
  const moduleList: string[] = [];
  const moduleNames = new Map<string, number>();
  let nonZero = false;
  let sawAny = false;
  for (let pos = 0; pos < len; ) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0 || eol > len) eol = len;
    const lineStart = pos;
    pos = eol + 1;
    if (eol === lineStart) continue;
    // "<hex address> <type> <name>[\t[module]]"
    let hi = 0;
    let lo = 0;
    let i = lineStart;
    for (; i < eol; i++) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      hi = ((hi << 4) | (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
    }
    const digits = i - lineStart;
    if (digits === 0 || digits > 16 || i + 2 >= eol || text.charCodeAt(i) !== 0x20 || text.charCodeAt(i + 2) !== 0x20) {
      malformed++;
      continue;
    }
    sawAny = true;
    if (hi !== 0 || lo !== 0) nonZero = true;
    const type = text.charCodeAt(i + 1);
    // t T w W: text symbols.
    if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue;
    let nameStart = i + 3;
    let nameStop = eol;
    let module = 0;
    let tab = nameStart;
    while (tab < eol && text.charCodeAt(tab) !== 0x09) tab++;
    if (tab < eol) {
      nameStop = tab;
      let ms = tab + 1;
      let me = eol;
      while (ms < me && text.charCodeAt(ms) === 0x20) ms++;
      while (me > ms && text.charCodeAt(me - 1) <= 0x20) me--;
      if (me - ms >= 2 && text.charCodeAt(ms) === 0x5b && text.charCodeAt(me - 1) === 0x5d) {
        module = moduleIndex(moduleNames, moduleList, text.slice(ms + 1, me - 1));
      }
    }
    while (nameStart < nameStop && text.charCodeAt(nameStart) <= 0x20) nameStart++;
    while (nameStop > nameStart && text.charCodeAt(nameStop - 1) <= 0x20) nameStop--;
    if (nameStop === nameStart) {
      malformed++;
      continue;
    }
    if (n >= maxSymbols) continue;
    if (nameStop - nameStart > MAX_NAME) nameStop = nameStart + MAX_NAME;
    if (n === cap) {
      cap *= 2;
      hiOf = grown(hiOf, new Uint32Array(cap));
      loOf = grown(loOf, new Uint32Array(cap));
      nameEnd = grown(nameEnd, new Uint32Array(cap));
      modOf = grown(modOf, new Uint16Array(cap));
      rankOf = grown(rankOf, new Uint8Array(cap));
    }
    const nameLen = nameStop - nameStart;
    if (nameUsed + nameLen > nameBytes.length) {
      const next = Buffer.allocUnsafe(Math.max(nameBytes.length * 2, nameUsed + nameLen));
      nameBytes.copy(next, 0, 0, nameUsed);
      nameBytes = next;
    }
    // Prefer global over weak over local, and real functions over the 16-byte `__pfx_`/`__cfi_` padding stubs.
    const padding = startsWithAt(text, nameStart, nameStop, '__pfx_') || startsWithAt(text, nameStart, nameStop, '__cfi_');
    for (let k = nameStart; k < nameStop; k++) nameBytes[nameUsed++] = text.charCodeAt(k);
    hiOf[n] = hi;
    loOf[n] = lo;
    nameEnd[n] = nameUsed;
    modOf[n] = module;
    rankOf[n] = (padding ? 0 : 8) + (type === 0x54 ? 4 : type === 0x57 ? 2 : 0);
    n++;
  }
  const restricted = sawAny && !nonZero;
  // Offsets from the lowest address as numbers: kernel text spans far less than 2^53 bytes.
  let minHi = 0;
  let minLo = 0;
  for (let k = 0; k < n; k++) {
    if (k === 0 || hiOf[k] < minHi || (hiOf[k] === minHi && loOf[k] < minLo)) {
      minHi = hiOf[k];
      minLo = loOf[k];
    }
  }
  const min = (BigInt(minHi) << 32n) | BigInt(minLo);
  const builder = new SymbolIndexBuilder({ base: min, maxSizelessSpan: MAX_SIZELESS_SPAN, maxSymbols });
  if (!restricted) for (let k = 0; k < n; k++) builder.addOffset((hiOf[k] - minHi) * 0x1_0000_0000 + (loOf[k] - minLo), 0, k, rankOf[k]);
  // One string for every name (a flat copy that keeps no part of `text`), the end of each beside it.
  const allNames = nameBytes.toString('latin1', 0, nameUsed);
  const ends = nameEnd.slice(0, n);
  const moduleOf = modOf.slice(0, n);
  const index: SymbolIndex = builder.build((ref) => allNames.slice(ref === 0 ? 0 : ends[ref - 1], ends[ref]));
  return {
    restricted,
    symbolCount: index.length,
    malformedLines: malformed,
    truncated,
    range: index.range,
    lookup(address) {
      const hit = index.lookup(address);
      if (!hit) return undefined;
      const m = moduleOf[hit.ref];
      return { name: hit.name, module: m === 0 ? undefined : moduleList[m - 1], address: hit.address };
    },
  };
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function startsWithAt(text: string, start: number, stop: number, prefix: string): boolean {
  if (stop - start < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (text.charCodeAt(start + k) !== prefix.charCodeAt(k)) return false;
  return true;
}

function grown<T extends Uint32Array | Uint16Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** One copy of each module name for all its symbols; returns its index + 1 (at most 65,535 modules). */
function moduleIndex(indexes: Map<string, number>, list: string[], name: string): number {
  let i = indexes.get(name);
  if (i === undefined) {
    if (list.length >= 0xfffe) return 0;
    list.push(detachString(name));
    i = list.length;
    indexes.set(list[i - 1], i);
  }
  return i;
}
