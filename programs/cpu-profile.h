/* Shared between programs/cpu-profile.bpf.c and user space. Mirrored by collector/layouts/cpu-profile.ts. */
#ifndef HOTPATH_CPU_PROFILE_H
#define HOTPATH_CPU_PROFILE_H

#include "common.h"

/* Key of the per-window sample counts (value: a u64 count): 32 bytes. */
struct cpu_sample_key {
	struct thread_stacks thread;
	char comm[TASK_COMM_LEN];
};

/* Indexes of the lost-sample counters (per-CPU array, cumulative). */
enum cpu_lost_reason {
	LOST_KERNEL_STACK_COLLISION = 0,
	LOST_USER_STACK_COLLISION = 1,
	LOST_USER_STACK_MISSING = 2,
	LOST_COUNTS_MAP_FULL = 3,
	LOST_REASONS = 4,
};

/* Read-only settings, written into .rodata before load: 264 bytes. */
struct cpu_profile_config {
	struct pid_filter filter;
	__u32 include_idle; /* nonzero: keep pid 0 samples */
};

#endif
