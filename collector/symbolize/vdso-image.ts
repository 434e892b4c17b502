// The vdso: the same image in every 64-bit process of this kernel, so it is read once from the memory of the
// first process that needs it and parsed like a file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, HotpathError } from '../errors.js';
import type { FileEntry } from './elf-cache.js';
import { bufferSource, parseElf } from './elf.js';
import type { ProcMapping } from './proc-maps.js';
import { elfMapping } from './profile-mappings.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const MAX_VDSO_BYTES = 1 << 20;
const MAX_READ_ATTEMPTS = 8;

export class VdsoImage {
  /** undefined: not read yet; null: given up. */
  private entry?: FileEntry | null;
  private failures = 0;

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly procRoot: string,
  ) {}

  /** The parsed vdso, read from `pid`'s memory at its `[vdso]` mapping `m` on first use. Never throws. */
  entryFor(pid: number, m: ProcMapping): FileEntry | undefined {
    if (this.entry !== undefined) return this.entry ?? undefined;
    const len = m.end - m.start;
    if (len <= 0n || len > BigInt(MAX_VDSO_BYTES)) {
      this.stats.vdsoErrors++;
      this.entry = null;
      return undefined;
    }
    let fd = -1;
    try {
      fd = fs.openSync(path.join(this.procRoot, String(pid), 'mem'), 'r');
      const buf = Buffer.alloc(Number(len));
      const n = fs.readSync(fd, buf, 0, buf.length, m.start);
      const parsed = parseElf(bufferSource(buf.subarray(0, n)));
      if (!parsed.ok) throw new HotpathError(ErrorCodes.INPUT, `parse vdso of pid ${pid}: ${parsed.error}`);
      this.entry = {
        key: 'vdso:' + parsed.elf.buildId,
        elf: parsed.elf,
        mapping: elfMapping('[vdso]', parsed.elf, len),
        frames: new Map(),
        symbols: parsed.elf.symbolCount,
        bytes: parsed.elf.retainedBytes,
        evicted: false,
      };
    } catch {
      // The process may have exited, or be a 32-bit process whose vdso is ELF32: retry a few times, then give up.
      this.stats.vdsoErrors++;
      if (++this.failures >= MAX_READ_ATTEMPTS) this.entry = null;
      return undefined;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
    return this.entry;
  }
}
