// Kernel frames: names from /proc/kallsyms, one [kernel.kallsyms] mapping carrying the running kernel's
// build-id, and a cache of the frames built so the same address is named once. Modules come and go: the
// module list (names and load addresses from /proc/modules) is compared at most once per window and per
// `moduleCheckMs`, and kallsyms is read again only when it changed (never per unknown address).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';
import { parseElfNotes } from './elf.js';
import { type KallsymsTable, parseKallsyms } from './kallsyms.js';
import { U64_MAX, UNKNOWN_MAPPING } from './profile-mappings.js';
import { readBounded } from './file-reads.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const MAX_CACHED_FRAMES = 4 * 8192;
const MAX_MODULES_BYTES = 4 << 20;

export interface KernelSymbolsOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Kernel symbols text to use instead of reading `<procRoot>/kallsyms` (tests); the build-id stays empty. */
  kallsymsText?: string;
  /** The module list is compared at most this often. Default 5 s. */
  moduleCheckMs?: number;
}

export class KernelSymbols {
  private table?: KallsymsTable;
  private mapping: ProfileMapping = UNKNOWN_MAPPING;
  private frames = new Map<bigint, ProfileFrame>();
  /** Module names and addresses when kallsyms was last read. */
  private modules?: string;
  private lastModuleCheck = 0;

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly options: KernelSymbolsOptions,
  ) {}

  /** (Re)reads kernel symbols. Failures are recorded in stats.kallsymsError (the table is then empty). */
  reload(): KallsymsTable {
    this.stats.kallsymsError = undefined;
    let text = this.options.kallsymsText;
    if (text === undefined) {
      this.modules = this.moduleSignature();
      this.lastModuleCheck = performance.now();
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

  /**
   * Reads kallsyms again if the loaded modules changed since it was read; compares at most once per
   * `moduleCheckMs`. Returns true when it reloaded. Never throws.
   */
  reloadIfModulesChanged(): boolean {
    if (this.table === undefined || this.options.kallsymsText !== undefined) return false;
    const now = performance.now();
    if (now - this.lastModuleCheck < (this.options.moduleCheckMs ?? 5000)) return false;
    this.lastModuleCheck = now;
    const current = this.moduleSignature();
    if (current === this.modules) return false;
    this.stats.kallsymsReloads++;
    this.reload();
    return true;
  }

  /** Name and load address of each module (not reference counts, which change without a load or unload). */
  private moduleSignature(): string {
    const r = readBounded(path.join(this.options.procRoot, 'modules'), MAX_MODULES_BYTES);
    if (!r.ok) return '';
    return r.text
      .split('\n')
      .map((line) => {
        const f = line.split(' ');
        return `${f[0]} ${f[5] ?? ''}`;
      })
      .join('\n');
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
