/* Shared between programs/offcpu.bpf.c and user space. Mirrored by collector/layouts/offcpu.ts. */
#ifndef HOTPATH_OFFCPU_H
#define HOTPATH_OFFCPU_H

#include "common.h"

/* Stack maps rotate over three generations (see offcpu.bpf.c). */
#define OFFCPU_STACK_MAPS 3
/* Frames kept of a kernel stack taken at switch-out. It starts at __schedule, and blocking paths are shallow
 * (10-40 frames measured); half of MAX_STACK_DEPTH halves the three maps, 25 MiB -> 12.7 MiB of kernel memory
 * allocated at load. */
#define OFFCPU_KERNEL_STACK_DEPTH 64

/* Key of the per-window aggregation: 40 bytes. */
struct offcpu_key {
	__u32 pid; /* tgid: the process */
	__u32 tid;
	__s32 kernel_stack_id; /* id in stacks_{stack_map}; < 0: none */
	__u32 stack_map;       /* which stacks_N map the kernel id indexes: generation % OFFCPU_STACK_MAPS */
	__u64 user_stack;      /* 64-bit hash of the frames, key in user_stacks_{generation % 2}; 0: none */
	char comm[TASK_COMM_LEN];
};

/* 16 bytes. */
struct offcpu_value {
	__u64 total_ns;
	__u64 count;
};

enum offcpu_lost_reason {
	OFFCPU_LOST_KERNEL_STACK = 0,   /* collision or no room in the stack map */
	OFFCPU_LOST_USER_STACK = 1,     /* the walk found no frame, or the user stack map was full */
	OFFCPU_LOST_COUNTS_MAP_FULL = 2,
	OFFCPU_LOST_STACK_EXPIRED = 3,  /* blocked over two windows: stacks were recycled, time kept without them */
	OFFCPU_LOST_USER_STACK_OUTSIDE_SYSCALL = 4, /* the block did not end in a system call (page fault,
						   * preemption): time kept, user stack not walked */
	OFFCPU_LOST_START_MAP_FULL = 5, /* raw_tp: the start-record hash by tid was full: the block is not seen */
	OFFCPU_LOST_TASK_STORAGE = 6,   /* tp_btf: no task storage (out of memory, or busy on this CPU) */
	OFFCPU_LOST_REASONS = 7,
};

/* Read-only settings, written into .rodata before load: 272 bytes. */
struct offcpu_config {
	__u64 min_block_ns;
	struct pid_filter filter;
	__u32 unwind_tables; /* nonzero: walk user stacks with the tables of programs/unwind.h (--unwind dwarf) */
};

#endif
