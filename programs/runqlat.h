/* Shared between programs/runqlat.bpf.c and user space. Mirrored by collector/layouts/runqlat.ts. */
#ifndef HOTPATH_RUNQLAT_H
#define HOTPATH_RUNQLAT_H

/* The histogram lives in a one-entry per-CPU array (a u32 key, 0) whose value is a struct log2_hist
 * (log2-hist.h); user space sums the CPUs. */
#define RUNQLAT_HIST_KEY 0

/* Wakeups whose start time could not be kept: their wait is not measured. Indexes the `lost` per-CPU array. */
enum runqlat_lost_reason {
	RUNQLAT_LOST_START_MAP_FULL = 0, /* raw_tp: the start-time hash by tid was full */
	RUNQLAT_LOST_TASK_STORAGE = 1,   /* tp_btf: no task storage (out of memory, or busy on this CPU) */
	RUNQLAT_LOST_REASONS = 2,
};

#endif
