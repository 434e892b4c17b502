// Plain data the pprof and folded exporters consume. The collector builds these; nothing here imports it.

/**
 * One mapped file (or pseudo-file such as `[kernel.kallsyms]`, `[vdso]`, `[jit]`, `[unknown]`).
 * Addresses of frames under a file mapping are *normalized*: the ELF virtual address, the same in every
 * process that maps the file, so one mapping per file serves all processes.
 */
export interface ProfileMapping {
  /** File path as the profiled process saw it, or a pseudo-name in brackets. */
  file: string;
  /** GNU build-id as lowercase hex, '' when unknown. */
  buildId: string;
  /** Address range covered by the mapping (normalized for files) and the file offset of `start`. */
  start: bigint;
  limit: bigint;
  offset: bigint;
  /** True when frames under this mapping were symbolized. */
  hasFunctions: boolean;
}

export interface ProfileFrame {
  /** Normalized address for file mappings; the absolute address for kernel, JIT and unknown frames. */
  address: bigint;
  /** Display name (demangled); undefined when the frame could not be symbolized. */
  functionName?: string;
  /** Name as found in the symbol table (mangled); defaults to functionName. */
  systemName?: string;
  /** Source file name when known. */
  fileName?: string;
  /** Source line when known (0 or undefined when not). */
  line?: number;
  /**
   * Where the frame's code came from, as the collector decided when it symbolized: one of flamegraph's
   * FrameKind values (flamegraph/types.ts, the one definition; exporters/ may not import it). The exporters
   * act on 'kernel' (a kernel frame without a mapping goes under [kernel.kallsyms]) and, in folded output
   * with annotateKind, on 'kernel' and 'jit'.
   */
  kind: string;
  mapping?: ProfileMapping;
}

export interface ProfileSample {
  /** Leaf first. */
  frames: ProfileFrame[];
  /** One value per entry of ProfileData.sampleTypes, in the same order. */
  values: number[];
  /** Numeric labels (pid, tid, ...). */
  numLabels?: Record<string, number>;
  /** String labels (comm, ...). */
  strLabels?: Record<string, string>;
}

export interface ValueTypeSpec {
  type: string;
  unit: string;
}

export interface ProfileData {
  sampleTypes: ValueTypeSpec[];
  periodType: ValueTypeSpec;
  period: number;
  /** The sample type pprof shows unless told otherwise (default: the last one, as go tool pprof does). */
  defaultSampleType?: string;
  /** Start of the profile, nanoseconds since the Unix epoch. */
  timeNanos: bigint;
  durationNanos: bigint;
  samples: ProfileSample[];
  /** Optional comments stored in the profile. */
  comments?: string[];
}
