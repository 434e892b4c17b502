// Mirrors programs/runqlat.h: the key of the one-entry per-CPU `hist` array, whose value is struct log2_hist
// (./log2-hist.ts), and enum runqlat_lost_reason.

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

/** enum runqlat_lost_reason, by index: the `reason` label values. */
export const RUNQLAT_LOST_REASONS = ['runqlat_start_map_full', 'runqlat_task_storage'] as const;
export type RunqlatLostReason = (typeof RUNQLAT_LOST_REASONS)[number];
