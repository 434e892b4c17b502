// /proc/<pid>/maps parser. Paths are copied out of the text (detach-string.ts), so the text can go.

import { detachString } from './detach-string.js';

export type MappingKind =
  | 'file' // a regular file path
  | 'memfd' // /memfd:name (always shown as deleted)
  | 'anon' // no path
  | 'anon-named' // [anon:name], [anon_shmem:name], anon_inode:...
  | 'heap'
  | 'stack'
  | 'vdso'
  | 'vvar'
  | 'vsyscall'
  | 'other'; // any other bracketed pseudo-path

export interface ProcMapping {
  start: bigint;
  end: bigint;
  /** e.g. `r-xp`. */
  perms: string;
  readable: boolean;
  writable: boolean;
  executable: boolean;
  shared: boolean;
  /** File offset of `start`. */
  offset: bigint;
  devMajor: number;
  devMinor: number;
  inode: bigint;
  /** Path without the ` (deleted)` suffix; '' for anonymous memory. */
  path: string;
  deleted: boolean;
  kind: MappingKind;
}

export interface ProcMapsResult {
  mappings: ProcMapping[];
  malformedLines: number;
  truncated: boolean;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)(?: +(.*))?$/;
const DELETED = ' (deleted)';

export interface ProcMapsOptions {
  /** Lines read at most; the rest is reported as truncated. Default 1M. */
  maxLines?: number;
  /** Keep only executable mappings (the ones stack addresses are in); others are skipped unparsed. */
  executableOnly?: boolean;
}

/** Parses /proc/<pid>/maps text; lines that do not match the format are counted and skipped. Never throws. */
export function parseProcMaps(text: string, options: ProcMapsOptions = {}): ProcMapsResult {
  const maxLines = options.maxLines ?? 1_000_000;
  const executableOnly = options.executableOnly ?? false;
  const mappings: ProcMapping[] = [];
  let malformed = 0;
  let truncated = false;
  let lines = 0;
  for (let pos = 0; pos < text.length; ) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    const line = text.slice(pos, eol);
    pos = eol + 1;
    if (!line) continue;
    if (++lines > maxLines) {
      truncated = true;
      break;
    }
    // `start-end perms ...`: the x bit is the third permission character.
    if (executableOnly) {
      const sp = line.indexOf(' ');
      if (sp > 0 && line[sp + 3] !== 'x') continue;
    }
    const m = LINE.exec(line);
    if (!m) {
      malformed++;
      continue;
    }
    const start = BigInt('0x' + m[1]);
    const end = BigInt('0x' + m[2]);
    if (end <= start) {
      malformed++;
      continue;
    }
    let path = m[8] ?? '';
    let deleted = false;
    if (path.endsWith(DELETED)) {
      deleted = true;
      path = path.slice(0, -DELETED.length);
    }
    path = detachString(path);
    const perms = m[3];
    mappings.push({
      start,
      end,
      perms,
      readable: perms[0] === 'r',
      writable: perms[1] === 'w',
      executable: perms[2] === 'x',
      shared: perms[3] === 's',
      offset: BigInt('0x' + m[4]),
      devMajor: parseInt(m[5], 16),
      devMinor: parseInt(m[6], 16),
      inode: BigInt(m[7]),
      path,
      deleted,
      kind: classify(path),
    });
  }
  // The kernel lists mappings in address order; sort anyway so lookups can binary search any input.
  mappings.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return { mappings, malformedLines: malformed, truncated };
}

function classify(path: string): MappingKind {
  if (path === '') return 'anon';
  if (path.startsWith('/memfd:')) return 'memfd';
  if (path.startsWith('/')) return 'file';
  if (path === '[heap]') return 'heap';
  if (path === '[stack]' || path.startsWith('[stack:')) return 'stack';
  if (path === '[vdso]') return 'vdso';
  if (path === '[vvar]' || path.startsWith('[vvar_')) return 'vvar';
  if (path === '[vsyscall]') return 'vsyscall';
  if (path.startsWith('[anon:') || path.startsWith('[anon_shmem:') || path.startsWith('anon_inode:')) return 'anon-named';
  return 'other';
}

/** The mapping containing `address` (mappings sorted by start, non-overlapping), or undefined. */
export function findMapping(mappings: readonly ProcMapping[], address: bigint): ProcMapping | undefined {
  let lo = 0;
  let hi = mappings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = mappings[mid];
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}
