/* Shared between programs/runqlat.bpf.c and user space. Mirrored by collector/layouts/runqlat.ts. */
#ifndef HOTPATH_RUNQLAT_H
#define HOTPATH_RUNQLAT_H

/* The histogram lives in a one-entry per-CPU array (a u32 key, 0) whose value is a struct log2_hist
 * (log2-hist.h); user space sums the CPUs. */
#define RUNQLAT_HIST_KEY 0

/* Per-cgroup histograms (`--runqlat-per-cgroup`): a per-CPU hash from the running task's cgroup v2 id (u64,
 * the cgroup directory's inode number) to a struct log2_hist, bounded; once it is full, further cgroups share
 * the entry of key RUNQLAT_CGROUP_OVERFLOW. */
#define RUNQLAT_CGROUP_ENTRIES 1024
#define RUNQLAT_CGROUP_OVERFLOW 0

/* Settings fixed at load (.rodata). */
struct runqlat_config {
	/* 1: histograms per cgroup in `cgroup_hists` instead of the one in `hist`. */
	__u32 per_cgroup;
};

/* Wakeups whose start time could not be kept: their wait is not measured. Indexes the `lost` per-CPU array. */
enum runqlat_lost_reason {
	RUNQLAT_LOST_START_MAP_FULL = 0, /* raw_tp: the start-time hash by tid was full */
	RUNQLAT_LOST_TASK_STORAGE = 1,   /* tp_btf: no task storage (out of memory, or busy on this CPU) */
	RUNQLAT_LOST_CGROUP_MAP_FULL = 2, /* per cgroup: not even the overflow entry could be added */
	RUNQLAT_LOST_REASONS = 3,
};

#endif
