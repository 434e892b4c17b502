// --unwind and --unwind-table-memory, shared by `serve` and `record`: help lines, option declarations, parser.
import { usageError } from '../errors.js';
import { UNWIND_MODES, type UnwindMode } from '../sources/index.js';
import { parseBytes, parseChoice } from './flags.js';

export const UNWIND_HELP = `  --unwind dwarf|fp    user stacks: dwarf walks each file's .eh_frame/.debug_frame tables in the kernel (frame
                       pointers where a file has none, e.g. JIT code), fp frame pointers only (default dwarf)
  --unwind-table-memory SIZE
                       kernel memory for the unwind tables (default 32M); least recently used files are
                       dropped first, and code without a table walks by frame pointer
`;

export const UNWIND_OPTIONS = {
  unwind: { type: 'string', default: 'dwarf' },
  'unwind-table-memory': { type: 'string', default: '32M' },
} as const;

export function parseUnwindFlags(values: Record<string, unknown>): { unwind: UnwindMode; unwindTableBytes: number } {
  const unwind = parseChoice<UnwindMode>('--unwind', values.unwind as string, UNWIND_MODES);
  const unwindTableBytes = parseBytes('--unwind-table-memory', values['unwind-table-memory'] as string);
  if (unwindTableBytes < 1024 * 1024) throw usageError(`invalid value for --unwind-table-memory: ${values['unwind-table-memory']} (at least 1M)`);
  return { unwind, unwindTableBytes };
}
