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


/* What a thread was doing when it left the CPU (offcpu_key.state), taken only with offcpu_config.wall (else
 * OFFCPU_STATE_NONE). The wall profile tells lock waits (futex, mutex, rwsem) from other sleeps by their kernel
 * stack, in user space: comparing stacks in the kernel would cost a walk over the frames per switch. */
enum offcpu_state {
	OFFCPU_STATE_NONE = 0,     /* not classified (wall profile off) */
	OFFCPU_STATE_RUNNABLE = 1, /* preempted, or yielded while still TASK_RUNNING: it waits for a CPU throughout */
	OFFCPU_STATE_IO = 2,       /* task_struct::in_iowait set: io_schedule() (block I/O, page cache reads) */
	OFFCPU_STATE_SLEEPING = 3, /* any other block: sleeps, waits on events, locks */
};
/* Added to offcpu_key.state for a block shorter than min_block_ns, which only the wall profile counts (with
 * its kernel stack, without a user stack); the off-CPU profile leaves those entries out. */
#define OFFCPU_STATE_BELOW_MIN_BLOCK 0x100

/* Key of the per-window aggregation: 40 bytes. */
struct offcpu_key {
	__u32 pid; /* tgid: the process */
	__u32 tid;
	__s32 kernel_stack_id; /* id in stacks_{stack_map}; < 0: none */
	__u16 stack_map;       /* which stacks_N map the kernel id indexes: generation % OFFCPU_STACK_MAPS */
	__u16 state;           /* enum offcpu_state, | OFFCPU_STATE_BELOW_MIN_BLOCK */
	__u64 user_stack;      /* 64-bit hash of the frames, key in user_stacks_{generation % 2}; 0: none */
	char comm[TASK_COMM_LEN];
};

/* 32 bytes. */
struct offcpu_value {
	__u64 total_ns;    /* switch-out to switch-in */
	__u64 count;       /* blocks */
	__u64 runnable_ns; /* of total_ns, the time on a run queue (wakeup to switch-in; all of it when preempted):
			    * measured only with offcpu_config.wall */
	__u64 oncpu_ns;    /* wall mode: the thread's CPU time before each block since its switch-in or its last CPU
			    * sample, whichever came last: the part of its runs no CPU sample carried */
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

/* Read-only settings, written into .rodata before load: 280 bytes. */
struct offcpu_config {
	__u64 min_block_ns;
	struct pid_filter filter;
	__u32 unwind_tables; /* nonzero: walk user stacks with the tables of programs/unwind.h (--unwind dwarf) */
	__u32 wall;          /* nonzero: classify blocks (state), measure their run-queue part, and count blocks
			      * below min_block_ns too (the wall profile) */
};

#endif
