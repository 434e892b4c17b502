// Kernel frames: names from /proc/kallsyms, one [kernel.kallsyms] mapping carrying the running kernel's
// build-id, and a cache of the frames built so the same address is named once.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';
import { parseElfNotes } from './elf.js';
import { type KallsymsTable, parseKallsyms } from './kallsyms.js';
import { U64_MAX, UNKNOWN_MAPPING } from './profile-mappings.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const MAX_CACHED_FRAMES = 4 * 8192;

export interface KernelSymbolsOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Kernel symbols text to use instead of reading `<procRoot>/kallsyms` (tests); the build-id stays empty. */
  kallsymsText?: string;
}

export class KernelSymbols {
  private table?: KallsymsTable;
  private mapping: ProfileMapping = UNKNOWN_MAPPING;
  private frames = new Map<bigint, ProfileFrame>();

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly options: KernelSymbolsOptions,
  ) {}

  /** (Re)reads kernel symbols. Failures are recorded in stats.kallsymsError (the table is then empty). */
  reload(): KallsymsTable {
    this.stats.kallsymsError = undefined;
    let text = this.options.kallsymsText;
    if (text === undefined) {
      const file = path.join(this.options.procRoot, 'kallsyms');
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        this.stats.kallsymsError = `read ${file}: ${(err as Error).message}`;
        text = '';
      }
    }
    const table = parseKallsyms(text);
    this.table = table;
    this.frames = new Map();
    this.stats.kallsymsSymbols = table.symbolCount;
    this.stats.kallsymsRestricted = table.restricted;
    if (table.restricted) this.stats.kallsymsError = 'kernel addresses hidden (kernel.kptr_restrict): run as root or set kernel.kptr_restrict=0';
    // The last symbol has no size: cover the span a size-less kernel symbol may claim.
    const limit = table.range ? table.range.max + (1n << 20n) : U64_MAX;
    this.mapping = Object.freeze({
      file: '[kernel.kallsyms]',
      buildId: this.buildId(),
      start: table.range?.min ?? 0n,
      limit: limit < U64_MAX ? limit : U64_MAX,
      offset: 0n,
      hasFunctions: table.symbolCount > 0,
    });
    return table;
  }

  private buildId(): string {
    if (this.options.kallsymsText !== undefined) return '';
    try {
      // /sys/kernel/notes holds the running kernel's ELF notes, build-id included.
      return parseElfNotes(fs.readFileSync('/sys/kernel/notes')).buildId;
    } catch {
      return '';
    }
  }

  /** Names kernel addresses (leaf first in, leaf first out), reading kallsyms on first use. Never throws. */
  symbolize(addrs: readonly bigint[]): ProfileFrame[] {
    const table = this.table ?? this.reload();
    const out: ProfileFrame[] = [];
    for (const addr of addrs) {
      this.stats.framesTotal++;
      this.stats.kernelFrames++;
      let frame = this.frames.get(addr);
      if (!frame) {
        const sym = table.lookup(addr);
        const name = sym ? (sym.module ? `${sym.name} [${sym.module}]` : sym.name) : undefined;
        frame = { address: addr, functionName: name, systemName: name, kind: 'kernel', mapping: this.mapping };
        if (this.frames.size >= MAX_CACHED_FRAMES) this.frames.clear();
        this.frames.set(addr, frame);
      }
      if (frame.functionName !== undefined) this.stats.framesSymbolized++;
      out.push(frame);
    }
    return out;
  }
}
