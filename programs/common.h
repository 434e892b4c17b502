/* Limits and structs shared by every program and user space. Mirrored by collector/layouts/common.ts. */
#ifndef HOTPATH_COMMON_H
#define HOTPATH_COMMON_H

/* The kernel's comm size: also an enum constant in vmlinux.h, which the programs include first. */
#define TASK_COMM_LEN 16
/* Frames per stack trace map value (kernel.perf_event_max_stack's default). */
#define MAX_STACK_DEPTH 127
#define MAX_FILTER_PIDS 64

/* The head of every stack aggregation key: a thread and the ids of its stacks in a stack trace map. A stack id
 * < 0 means "no stack of that kind" (a negative errno of bpf_get_stackid). 16 bytes. */
struct thread_stacks {
	__u32 pid;  /* tgid: the process */
	__u32 tid;  /* the thread */
	__s32 kernel_stack_id;
	__s32 user_stack_id;
};

/* The processes (tgids) a program keeps, in its read-only settings: 260 bytes. */
struct pid_filter {
	__u32 count; /* 0: whole system */
	__u32 pids[MAX_FILTER_PIDS];
};

#endif
