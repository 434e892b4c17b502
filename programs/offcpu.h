/* Shared between programs/offcpu.bpf.c and user space. Mirrored by collector/layouts/offcpu.ts. */
#ifndef HOTPATH_OFFCPU_H
#define HOTPATH_OFFCPU_H

#include "common.h"

/* Stack maps rotate over three generations (see offcpu.bpf.c). */
#define OFFCPU_STACK_MAPS 3

/* Key of the per-window aggregation: 40 bytes. */
struct offcpu_key {
	struct thread_stacks thread;
	__u32 stack_map;      /* which stacks_N map the ids index: generation % OFFCPU_STACK_MAPS */
	__u32 pad;
	char comm[TASK_COMM_LEN];
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

/* Read-only settings, written into .rodata before load: 272 bytes. */
struct offcpu_config {
	__u64 min_block_ns;
	struct pid_filter filter;
	__u32 pad;
};

#endif
