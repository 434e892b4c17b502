// Mirrors programs/runqlat.h: the key of the one-entry per-CPU `hist` array, whose value is struct log2_hist
// (./log2-hist.ts), the per-cgroup hash (u64 cgroup id -> struct log2_hist), struct runqlat_config and enum
// runqlat_lost_reason.

export const RUNQLAT_HEADER = 'programs/runqlat.h';
export const RUNQLAT_HIST_KEY = 0;
/** The array's key: a u32. */
export const RUNQLAT_HIST_KEY_SIZE = 4;

/** The key of the histogram's one entry (RUNQLAT_HIST_KEY as a u32). */
export function encodeRunqlatHistKey(): Buffer {
  const buf = Buffer.alloc(RUNQLAT_HIST_KEY_SIZE);
  buf.writeUInt32LE(RUNQLAT_HIST_KEY, 0);
  return buf;
}

/** `cgroup_hists`: keys are u64 cgroup v2 ids; RUNQLAT_CGROUP_ENTRIES of them at most. */
export const RUNQLAT_CGROUP_KEY_SIZE = 8;
export const RUNQLAT_CGROUP_ENTRIES = 1024;
/** The key cgroups share once the map is full. */
export const RUNQLAT_CGROUP_OVERFLOW = 0n;

/** struct runqlat_config (.rodata). */
export const RUNQLAT_CONFIG_SIZE = 4;

export function encodeRunqlatConfig(opts: { perCgroup: boolean }): Buffer {
  const buf = Buffer.alloc(RUNQLAT_CONFIG_SIZE);
  buf.writeUInt32LE(opts.perCgroup ? 1 : 0, 0);
  return buf;
}

/** enum runqlat_lost_reason, by index: the `reason` label values. */
export const RUNQLAT_LOST_REASONS = ['runqlat_start_map_full', 'runqlat_task_storage', 'runqlat_cgroup_map_full'] as const;
export type RunqlatLostReason = (typeof RUNQLAT_LOST_REASONS)[number];
