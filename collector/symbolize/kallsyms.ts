// /proc/kallsyms parser: text symbols (t/T/w/W) of the kernel and its modules, sorted for address lookup.
// Names are copied out of the text (detach-string.ts), so the 10+ MB text is not kept alive.

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
  const mods: Array<string | undefined> = [];
  const ranks: number[] = [];
  let malformed = 0;
  const moduleNames = new Map<string, string>();
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
    names.push(detachString(name));
    mods.push(module === undefined ? undefined : (moduleNames.get(module) ?? intern(moduleNames, module)));
    // Prefer global over weak over local, and real functions over the 16-byte `__pfx_`/`__cfi_` padding stubs.
    const padding = name.startsWith('__pfx_') || name.startsWith('__cfi_');
    ranks.push((padding ? 0 : 8) + (type === 'T' ? 4 : type === 'W' ? 2 : 0));
  }
  const restricted = sawAny && !nonZero;
  let min = 0n;
  for (let i = 0; i < addrs.length; i++) if (i === 0 || addrs[i] < min) min = addrs[i];
  const builder = new SymbolIndexBuilder({ base: min, maxSizelessSpan: MAX_SIZELESS_SPAN, maxSymbols });
  if (!restricted) for (let i = 0; i < addrs.length; i++) builder.add(addrs[i], 0, i, ranks[i]);
  const index: SymbolIndex = builder.build((ref) => names[ref]);
  return {
    restricted,
    symbolCount: index.length,
    malformedLines: malformed,
    truncated,
    range: index.range,
    lookup(address) {
      const hit = index.lookup(address);
      if (!hit) return undefined;
      return { name: hit.name, module: mods[hit.ref], address: hit.address };
    },
  };
}

/** One copy of each module name for all its symbols. */
function intern(names: Map<string, string>, name: string): string {
  const copy = detachString(name);
  names.set(copy, copy);
  return copy;
}
