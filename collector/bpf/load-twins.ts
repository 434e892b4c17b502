// Loads an object whose handlers come as tp_btf/raw_tp twins (`<base>_btf`, `<base>_raw`): the tp_btf set
// first, and when the kernel refuses it (no tp_btf, no task storage...), the object reopened with the raw_tp
// set instead. Probing by loading rather than by kernel version: backports make versions lie.
import { ErrorCodes, HotpathError } from '../errors.js';
import { BpfObject, type BpfLink, type BpfProgram, type ProgramStats } from './libbpf.js';
import { programObjectPath } from './program-files.js';

export type AttachVariant = 'tp_btf' | 'raw_tp';

export interface LoadedTwins {
  object: BpfObject;
  variant: AttachVariant;
  /** The loaded set, in the order of `bases`. */
  programs: BpfProgram[];
}

const SUFFIX: Record<AttachVariant, string> = { tp_btf: '_btf', raw_tp: '_raw' };

/**
 * Opens programs/<name>.bpf.o, lets `configure` set rodata and map sizes, and loads one twin set.
 * `only` forces a variant (tests, and users whose kernel misreports tp_btf). Throws a HotpathError naming
 * the step; nothing stays open then.
 */
export function loadTwins(
  name: string,
  bases: string[],
  configure: (object: BpfObject) => void,
  only?: AttachVariant,
): LoadedTwins {
  const path = programObjectPath(name);
  const variants: AttachVariant[] = only ? [only] : ['tp_btf', 'raw_tp'];
  const failures: string[] = [];
  for (const variant of variants) {
    const object = BpfObject.open(path);
    try {
      configure(object);
      for (const v of Object.keys(SUFFIX) as AttachVariant[]) {
        for (const base of bases) object.program(base + SUFFIX[v]).setAutoload(v === variant);
      }
      object.load();
      return { object, variant, programs: bases.map((base) => object.program(base + SUFFIX[variant])) };
    } catch (err) {
      object.close();
      if (!(err instanceof HotpathError) || err.code !== ErrorCodes.LOAD_OBJECT) throw err;
      failures.push(`${variant}: ${err.message}`);
    }
  }
  throw new HotpathError(ErrorCodes.LOAD_OBJECT, `load ${name} (${variants.join(', then ')}): ${failures.join('\n')}`);
}

/** Attaches every program; on failure destroys what was attached and throws naming the program. */
export function attachAll(name: string, loaded: LoadedTwins): BpfLink[] {
  const links: BpfLink[] = [];
  try {
    for (const program of loaded.programs) {
      try {
        links.push(program.attach());
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new HotpathError(ErrorCodes.ATTACH, `attach ${name} ${loaded.variant} program ${program.name}: ${detail}`,
          err instanceof HotpathError ? err.errno : undefined);
      }
    }
    return links;
  } catch (err) {
    for (const link of links) link.destroy();
    throw err;
  }
}

export function statsOf(programs: BpfProgram[]): Record<string, ProgramStats> {
  const out: Record<string, ProgramStats> = {};
  for (const p of programs) out[p.name] = p.stats();
  return out;
}

export function closedError(name: string): HotpathError {
  return new HotpathError(ErrorCodes.MAP, `read ${name}: the collector is closed`);
}
