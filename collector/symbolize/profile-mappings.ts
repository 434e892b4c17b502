// The pprof mappings that symbolized frames point to. Frames and calls share them, so they are frozen.

import type { ProfileMapping } from '../../exporters/pprof/types.js';
import type { ElfFile } from './elf.js';

export const U64_MAX = (1n << 64n) - 1n;

/** A mapping over every address that names no functions: no file, or a file that could not be read. */
export function unnamedMapping(file: string): ProfileMapping {
  return Object.freeze({ file, buildId: '', start: 0n, limit: U64_MAX, offset: 0n, hasFunctions: false });
}

export const UNKNOWN_MAPPING: ProfileMapping = unnamedMapping('[unknown]');
export const JIT_MAPPING: ProfileMapping = Object.freeze({ file: '[jit]', buildId: '', start: 0n, limit: U64_MAX, offset: 0n, hasFunctions: true });
export const VSYSCALL_MAPPING: ProfileMapping = Object.freeze({
  file: '[vsyscall]',
  buildId: '',
  start: 0xffffffffff600000n,
  limit: 0xffffffffff601000n,
  offset: 0n,
  hasFunctions: true,
});

/**
 * The mapping of an ELF file or the vdso image: its first executable segment, the range pprof describes.
 * Without one it starts at 0 and ends at `limitWithoutExecSegment`.
 */
export function elfMapping(file: string, elf: ElfFile, limitWithoutExecSegment: bigint): ProfileMapping {
  const x = elf.execSegment;
  return Object.freeze({
    file,
    buildId: elf.buildId,
    start: x?.vaddr ?? 0n,
    limit: x ? x.vaddr + x.memsz : limitWithoutExecSegment,
    offset: x?.offset ?? 0n,
    hasFunctions: elf.symbolCount > 0,
  });
}
