// Perf map parser (/tmp/perf-<pid>.map, written by JIT runtimes such as Node with --perf-basic-prof).
// Each line is `START SIZE name` with hex START and SIZE; the name runs to the end of the line and may hold spaces.
// Names are copied out of the text (detach-string.ts): the table does not keep the text alive.

import { detachString } from './detach-string.js';
import { SymbolIndex, SymbolIndexBuilder } from './symbol-index.js';

export interface PerfMapOptions {
  maxLines?: number;
  /** Cap on input characters; the tail is ignored and reported as truncated. */
  maxChars?: number;
  maxNameLength?: number;
}

export interface PerfMapEntry {
  name: string;
  address: bigint;
  size: number;
}

export interface PerfMapTable {
  entryCount: number;
  malformedLines: number;
  truncated: boolean;
  lookup(address: bigint): PerfMapEntry | undefined;
}

const HEX = /^(?:0x)?[0-9a-fA-F]{1,16}$/;

/** Parses perf map text. Later lines win for the same start address (JIT code is reused after GC). Never throws. */
export function parsePerfMap(text: string, options: PerfMapOptions = {}): PerfMapTable {
  const maxLines = options.maxLines ?? 2_000_000;
  const maxChars = options.maxChars ?? 256 << 20;
  const maxName = options.maxNameLength ?? 1024;
  let truncated = text.length > maxChars;
  const len = Math.min(text.length, maxChars);
  const names: string[] = [];
  const builder = new SymbolIndexBuilder({ maxSymbols: maxLines });
  let malformed = 0;
  let lines = 0;
  for (let pos = 0; pos < len; ) {
    let eol = text.indexOf('\n', pos);
    // A line cut by the size cap (or still being written) has no newline: ignore it rather than keep half a name.
    if (eol < 0 || eol > len) break;
    const line = text.slice(pos, eol);
    pos = eol + 1;
    if (!line.trim()) continue;
    if (++lines > maxLines) {
      truncated = true;
      break;
    }
    const sp1 = line.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp1 < 0 || sp2 < 0) {
      malformed++;
      continue;
    }
    const a = line.slice(0, sp1);
    const s = line.slice(sp1 + 1, sp2);
    const name = line.slice(sp2 + 1).replace(/\r$/, '').slice(0, maxName);
    if (!HEX.test(a) || !HEX.test(s) || !name) {
      malformed++;
      continue;
    }
    const size = Number(BigInt(s.startsWith('0x') ? s : '0x' + s));
    const address = BigInt(a.startsWith('0x') ? a : '0x' + a);
    names.push(detachString(name));
    // Rank by line number so the newest entry for an address wins.
    if (!builder.add(address, size, names.length - 1, lines)) malformed++;
  }
  const index: SymbolIndex = builder.build((ref) => names[ref]);
  return {
    entryCount: index.length,
    malformedLines: malformed,
    truncated,
    lookup(address) {
      const hit = index.lookup(address);
      // Perf map entries always carry a size; a size-0 entry names nothing beyond its start.
      if (!hit || (hit.size === 0 && hit.address !== address)) return undefined;
      return { name: hit.name, address: hit.address, size: hit.size };
    },
  };
}
