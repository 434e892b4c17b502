// Loads an object whose handlers come as tp_btf/raw_tp twins (`<base>_btf`, `<base>_raw`): the tp_btf set
// first, and when the kernel refuses it (no tp_btf, no task storage...), the object reopened with the raw_tp
// set instead. Probing by loading rather than by kernel version: backports make versions lie.
import { ErrorCodes, HotpathError } from '../errors.js';
import { BpfObject, type BpfLink, type BpfProgram, type ProgramRunStats } from './libbpf.js';
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
 * Opens programs/<name>.bpf.o, lets `configure` set rodata and map sizes (knowing which variant is tried: maps
 * only the other variant uses can be made one entry), and loads one twin set.
 * `only` forces a variant (tests, and users whose kernel misreports tp_btf). Throws a HotpathError naming
 * the step; nothing stays open then.
 */
export function loadTwins(
  name: string,
  bases: string[],
  configure: (object: BpfObject, variant: AttachVariant) => void,
  only?: AttachVariant,
): LoadedTwins {
  const path = programObjectPath(name);
  const variants: AttachVariant[] = only ? [only] : ['tp_btf', 'raw_tp'];
  const failures: string[] = [];
  for (const variant of variants) {
    const object = BpfObject.open(path);
    try {
      configure(object, variant);
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

/** Run statistics of each program, labelled with its name (the shape of hotpath_bpf_program_* metrics). */
export function statsOf(programs: BpfProgram[]): ({ program: string } & ProgramRunStats)[] {
  return programs.map((p) => ({ program: p.name, ...p.stats() }));
}

/**
 * A loaded and attached twin set: what a latency program is until closed. `check` runs after load (layout
 * checks) and before attaching; on any failure nothing stays open.
 */
export class AttachedTwins {
  readonly object: BpfObject;
  readonly variant: AttachVariant;
  private readonly programs: BpfProgram[];
  private links: BpfLink[];

  private constructor(loaded: LoadedTwins, links: BpfLink[]) {
    this.object = loaded.object;
    this.variant = loaded.variant;
    this.programs = loaded.programs;
    this.links = links;
  }

  static start(name: string, bases: string[], configure: (object: BpfObject, variant: AttachVariant) => void, check: (object: BpfObject) => void, only?: AttachVariant): AttachedTwins {
    const loaded = loadTwins(name, bases, configure, only);
    try {
      check(loaded.object);
      return new AttachedTwins(loaded, attachAll(name, loaded));
    } catch (err) {
      loaded.object.close();
      throw err;
    }
  }

  programStats(): ({ program: string } & ProgramRunStats)[] {
    return statsOf(this.programs);
  }

  /** Detaches and frees everything; maps and programs throw HP_ERR_CLOSED afterwards. Idempotent. */
  close(): void {
    for (const link of this.links.splice(0)) link.destroy();
    this.object.close();
  }
}
