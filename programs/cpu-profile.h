/* Shared between programs/cpu-profile.bpf.c and collector/cpu-profile-layout.ts (which mirrors it). */
#ifndef HOTPATH_CPU_PROFILE_H
#define HOTPATH_CPU_PROFILE_H

#define TASK_COMM_LEN 16
#define MAX_STACK_DEPTH 127
#define MAX_FILTER_PIDS 64

/* Key of the per-window sample counts: 32 bytes. A stack id < 0 means "no stack of that kind". */
struct cpu_sample_key {
	__u32 pid;  /* tgid: the process */
	__u32 tid;  /* the thread */
	__s32 kernel_stack_id;
	__s32 user_stack_id;
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

/* Read-only settings, written into .rodata before load. */
struct cpu_profile_config {
	__u32 filter_pid_count; /* 0: whole system */
	__u32 include_idle;     /* nonzero: keep pid 0 samples */
	__u32 filter_pids[MAX_FILTER_PIDS];
};

#endif
