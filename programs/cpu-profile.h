/* Shared between programs/cpu-profile.bpf.c and user space. Mirrored by collector/layouts/cpu-profile.ts. */
#ifndef HOTPATH_CPU_PROFILE_H
#define HOTPATH_CPU_PROFILE_H

#include "common.h"

/* Key of the per-window sample counts (value: struct cpu_sample_value): 40 bytes. */
struct cpu_sample_key {
	__u32 pid; /* tgid: the process */
	__u32 tid;
	__u64 kernel_stack; /* 64-bit hash of the frames, key in stacks_N (programs/kernel-stack.bpf.h); 0: none */
	__u64 user_stack; /* 64-bit hash of the frames, key in user_stacks_N; 0: no user stack */
	char comm[TASK_COMM_LEN];
};

/* Value of the per-window sample counts: 16 bytes. */
struct cpu_sample_value {
	__u64 count;
	/* With cpu_profile_config.wall, the CPU time the samples stand for, measured: per sample, the time since
	 * the thread's switch-in or its previous sample, whichever came last (its first: period_ns); the rest of
	 * each run is carried by the off-CPU program at the switch-out (offcpu_value.oncpu_ns). Otherwise
	 * count x period_ns. */
	__u64 cpu_ns;
};

/* Indexes of the lost-sample counters (per-CPU array, cumulative). */
enum cpu_lost_reason {
	LOST_KERNEL_STACKS_MAP_FULL = 0, /* a kernel stack the window's map had no room for */
	LOST_USER_STACKS_MAP_FULL = 1,
	LOST_USER_STACK_MISSING = 2,
	LOST_COUNTS_MAP_FULL = 3,
	LOST_REASONS = 4,
};

/* Read-only settings, written into .rodata before load: 276 bytes. */
struct cpu_profile_config {
	struct pid_filter filter;
	__u32 include_idle; /* nonzero: keep pid 0 samples */
	__u32 unwind_tables; /* nonzero: walk user stacks with the tables of programs/unwind.h (--unwind dwarf) */
	__u32 period_ns;     /* 1e9 / hz: the cpu_ns of a sample without a measure */
	__u32 wall;          /* nonzero: measure cpu_ns in the task storage wall_task, shared with the off-CPU program */
};

#endif
