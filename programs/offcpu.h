/* Shared between programs/offcpu.bpf.c and collector/latency/offcpu-key.ts (which mirrors it). */
#ifndef HOTPATH_OFFCPU_H
#define HOTPATH_OFFCPU_H

#define OFFCPU_COMM_LEN 16
#define OFFCPU_MAX_STACK_DEPTH 127
#define OFFCPU_MAX_FILTER_PIDS 64
/* Stack maps rotate over three generations (see offcpu.bpf.c). */
#define OFFCPU_STACK_MAPS 3

/* Key of the per-window aggregation: 40 bytes. A stack id < 0 means "no stack of that kind". */
struct offcpu_key {
	__u32 pid;            /* tgid */
	__u32 tid;
	__s32 kernel_stack_id;
	__s32 user_stack_id;
	__u32 stack_map;      /* which stacks_N map the ids index: generation % OFFCPU_STACK_MAPS */
	__u32 pad;
	char comm[OFFCPU_COMM_LEN];
};

/* 16 bytes. */
struct offcpu_value {
	__u64 total_ns;
	__u64 count;
};

enum offcpu_lost_reason {
	OFFCPU_LOST_KERNEL_STACK = 0,   /* collision or no room in the stack map */
	OFFCPU_LOST_USER_STACK = 1,     /* collision, or no user stack to walk */
	OFFCPU_LOST_COUNTS_MAP_FULL = 2,
	OFFCPU_LOST_STACK_EXPIRED = 3,  /* blocked over two windows: stacks were recycled, time kept without them */
	OFFCPU_LOST_REASONS = 4,
};

/* Read-only settings, written into .rodata before load. */
struct offcpu_config {
	__u64 min_block_ns;
	__u32 filter_pid_count; /* 0: whole system */
	__u32 pad;
	__u32 filter_pids[OFFCPU_MAX_FILTER_PIDS];
};

#endif
