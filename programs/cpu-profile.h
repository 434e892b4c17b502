/* Shared between programs/cpu-profile.bpf.c and user space. Mirrored by collector/layouts/cpu-profile.ts. */
#ifndef HOTPATH_CPU_PROFILE_H
#define HOTPATH_CPU_PROFILE_H

#include "common.h"

/* Key of the per-window sample counts (value: a u64 count): 40 bytes. */
struct cpu_sample_key {
	__u32 pid; /* tgid: the process */
	__u32 tid;
	__s32 kernel_stack_id; /* id in stacks_N (a stack trace map); < 0: none (the negative errno) */
	__u32 pad;
	__u64 user_stack; /* 64-bit hash of the frames, key in user_stacks_N; 0: no user stack */
	char comm[TASK_COMM_LEN];
};

/* Indexes of the lost-sample counters (per-CPU array, cumulative). */
enum cpu_lost_reason {
	LOST_KERNEL_STACK_COLLISION = 0,
	LOST_USER_STACKS_MAP_FULL = 1,
	LOST_USER_STACK_MISSING = 2,
	LOST_COUNTS_MAP_FULL = 3,
	LOST_REASONS = 4,
};

/* Read-only settings, written into .rodata before load: 272 bytes. */
struct cpu_profile_config {
	struct pid_filter filter;
	__u32 include_idle; /* nonzero: keep pid 0 samples */
	__u32 unwind_tables; /* nonzero: walk user stacks with the tables of programs/unwind.h (--unwind dwarf) */
	__u32 pad;
};

#endif
