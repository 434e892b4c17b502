/* Shared between programs/io.bpf.c and user space. Mirrored by collector/layouts/io.ts. */
#ifndef HOTPATH_IO_H
#define HOTPATH_IO_H

#include "common.h"

/* Kernel and user stack maps rotate over three generations (see io.bpf.c). */
#define IO_STACK_MAPS 3

/* Key of the per-window aggregation: 56 bytes. The operation classes are enum bio_op of biolatency.h.
 * Both stacks are keyed by a 64-bit hash of their frames in our own hash maps, so that no stack is lost to the
 * bucket collisions of a stack-trace map (bpf_get_stackid's -EEXIST, a few per window on a busy machine). */
struct io_key {
	__u32 pid; /* tgid of the task that submitted the request */
	__u32 tid;
	__u32 stack_map;     /* generation % IO_STACK_MAPS when the stacks were taken (kernel and user) */
	__u32 op;            /* enum bio_op */
	__u64 kernel_stack;  /* 64-bit hash of the frames, key in stacks_{stack_map}; 0: none */
	__u64 user_stack;    /* 64-bit hash of the frames, key in user_stacks_{stack_map}; 0: none */
	char comm[TASK_COMM_LEN];
	__u32 major; /* the request's disk; 0:0 when it has none */
	__u32 minor;
};

/* 16 bytes. */
struct io_value {
	__u64 total_ns; /* issue to completion, summed */
	__u64 count;    /* requests */
};

enum io_lost_reason {
	IO_LOST_KERNEL_STACK = 0,     /* no kernel frame read, or the stack map was full: time kept without it */
	IO_LOST_USER_STACK = 1,       /* the walk found no frame, or the user stack map was full: time kept */
	IO_LOST_COUNTS_MAP_FULL = 2,  /* the request is not counted */
	IO_LOST_STACK_EXPIRED = 3,    /* issued two windows before it completed: time kept without stacks */
	IO_LOST_REQUEST_MAP_FULL = 4, /* more requests in flight than the request hash holds: not counted */
	IO_LOST_REASONS = 5,
};

/* Read-only settings, written into .rodata before load: 268 bytes. */
struct io_config {
	struct pid_filter filter;
	__u32 unwind_tables; /* nonzero: walk user stacks with the tables of programs/unwind.h (--unwind dwarf) */
	__u32 issue_rq_arg;  /* index of `struct request *` in block_rq_issue's arguments (see biolatency.h) */
};

#endif
