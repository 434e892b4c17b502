// Where distributions put detached debug files, as pure functions: the `.gnu_debuglink` section (a file name
// and the CRC32 of the debug file), the CRC32 itself, and the paths gdb looks at for a build-id or a debuglink.

import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** Contents of a `.gnu_debuglink` section. */
export interface DebugLink {
  /** File name of the debug file (no directory part). */
  file: string;
  /** CRC32 (zlib's) of the whole debug file. */
  crc: number;
}

/** Global debug directory of Debian, Fedora and the others (gdb's `debug-file-directory`). */
export const DEBUG_DIR = '/usr/lib/debug';
const MAX_LINK_NAME = 255;

/**
 * parseDebugLink reads a `.gnu_debuglink` section: a NUL-terminated file name, zero padding up to a 4-byte
 * boundary, then the CRC32 as a 4-byte little-endian word. Undefined for anything else, including names with
 * a directory part (gdb's lookup joins the name to directories it chooses). Never throws.
 */
export function parseDebugLink(section: Buffer): DebugLink | undefined {
  const end = section.indexOf(0);
  if (end <= 0 || end > MAX_LINK_NAME) return undefined;
  const crcOff = (end + 4) & ~3;
  if (crcOff + 4 > section.length) return undefined;
  const file = section.toString('utf8', 0, end);
  if (file.includes('/') || file === '.' || file === '..' || file.includes('\uFFFD')) return undefined;
  return { file, crc: section.readUInt32LE(crcOff) };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** crc32Portable is the CRC32 of zlib (and of gdb's debuglink check), in JavaScript, for Node before 20.15. */
export function crc32Portable(data: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** crc32 continues `previous` (the CRC of the bytes before `data`, 0 at the start) over `data`. */
export function crc32(data: Uint8Array, previous = 0): number {
  return nativeCrc32 ? nativeCrc32(data, previous) >>> 0 : crc32Portable(data, previous);
}

/** buildIdDebugPath is where a debug file sits by GNU build-id: `/usr/lib/debug/.build-id/ab/cdef….debug`. */
export function buildIdDebugPath(buildId: string): string | undefined {
  if (!/^[0-9a-f]{4,128}$/.test(buildId)) return undefined;
  return `${DEBUG_DIR}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;
}

/**
 * debugLinkCandidates lists, in gdb's order, where the debug file named by a debuglink is looked for, given
 * the absolute path of the file that carries the link: its own directory, that directory's `.debug/`, and the
 * same directory under /usr/lib/debug.
 */
export function debugLinkCandidates(filePath: string, link: DebugLink): string[] {
  if (!filePath.startsWith('/')) return [];
  const dir = path.posix.dirname(path.posix.normalize(filePath));
  return [path.posix.join(dir, link.file), path.posix.join(dir, '.debug', link.file), path.posix.join(DEBUG_DIR, dir, link.file)];
}
