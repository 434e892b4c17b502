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
  const addrs: bigint[] = [];
  const names: string[] = [];
  /** Index into moduleList + 1; 0 for the core kernel. */
  const mods: number[] = [];
  const moduleList: string[] = [];
  const ranks: number[] = [];
  let malformed = 0;
  const moduleNames = new Map<string, number>();
  let nonZero = false;
  let sawAny = false;
  const maxSymbols = options.maxSymbols ?? 2_000_000;
  for (let pos = 0; pos < len; ) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0 || eol > len) eol = len;
    const line = text.slice(pos, eol);
    pos = eol + 1;
    if (line.length === 0) continue;
    // "<hex address> <type> <name>[\t[module]]"
    const sp1 = line.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp1 > 16 || sp2 !== sp1 + 2) {
      malformed++;
      continue;
    }
    const type = line[sp1 + 1];
    const hex = line.slice(0, sp1);
    if (!/^[0-9a-fA-F]+$/.test(hex)) {
      malformed++;
      continue;
    }
    sawAny = true;
    const address = BigInt('0x' + hex);
    if (address !== 0n) nonZero = true;
    if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
    let rest = line.slice(sp2 + 1);
    let module: string | undefined;
    const tab = rest.indexOf('\t');
    if (tab >= 0) {
      const m = rest.slice(tab + 1).trim();
      if (m.startsWith('[') && m.endsWith(']')) module = m.slice(1, -1);
      rest = rest.slice(0, tab);
    }
    const name = rest.trim().slice(0, MAX_NAME);
    if (!name) {
      malformed++;
      continue;
    }
    if (addrs.length >= maxSymbols) continue;
    addrs.push(address);
    names.push(name);
    mods.push(module === undefined ? 0 : moduleIndex(moduleNames, moduleList, module));
    // Prefer global over weak over local, and real functions over the 16-byte `__pfx_`/`__cfi_` padding stubs.
    const padding = name.startsWith('__pfx_') || name.startsWith('__cfi_');
    ranks.push((padding ? 0 : 8) + (type === 'T' ? 4 : type === 'W' ? 2 : 0));
  }
  const restricted = sawAny && !nonZero;
  let min = 0n;
  for (let i = 0; i < addrs.length; i++) if (i === 0 || addrs[i] < min) min = addrs[i];
  const builder = new SymbolIndexBuilder({ base: min, maxSizelessSpan: MAX_SIZELESS_SPAN, maxSymbols });
  if (!restricted) for (let i = 0; i < addrs.length; i++) builder.add(addrs[i], 0, i, ranks[i]);
  // One string for every name (joined: a flat copy that keeps no part of `text`), offsets beside it.
  const offsets = new Uint32Array(names.length + 1);
  for (let i = 0, o = 0; i < names.length; i++) {
    offsets[i] = o;
    o += names[i].length;
    offsets[i + 1] = o;
  }
  const allNames = detachString(names.join(''));
  names.length = 0;
  const moduleOf = Uint16Array.from(mods);
  const index: SymbolIndex = builder.build((ref) => allNames.slice(offsets[ref], offsets[ref + 1]));
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
