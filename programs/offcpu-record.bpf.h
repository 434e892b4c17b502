/* The per-thread record of programs/offcpu.bpf.c, kernel-only. Its task storage is shared with
 * programs/cpu-profile.bpf.c for the wall profile: user space creates it in the CPU object (wall_task) and the
 * off-CPU object reuses it (start_task), so a CPU sample can carry the thread's CPU time since the last mark. */
#ifndef HOTPATH_OFFCPU_RECORD_BPF_H
#define HOTPATH_OFFCPU_RECORD_BPF_H

#include "vmlinux.h"

struct offcpu_start {
	__u64 ts;         /* switch-out time; 0: on CPU */
	__u64 pending_ns; /* a block waiting for its user stack at sys_exit; 0: none */
	__u64 pending_runnable_ns; /* its run-queue part (wall mode) */
	/* Wall mode: when the thread's CPU time was last carried (its switch-in, or its last CPU sample; 0: off CPU,
	 * or not seen coming in), and the CPU time carried at its switch-out, added with the block starting there. */
	__u64 on_since;
	__u64 oncpu_ns;
	/* Wall mode: a preempted thread's user stack, walked at its switch-out (it returns to user space without a
	 * sys_exit), in user_stacks_{user_generation % 2}; 0: none. */
	__u64 user_stack;
	__s32 kernel_stack_id;
	__u32 generation; /* of the kernel stack */
	__u32 state;      /* enum offcpu_state at switch-out (wall mode) */
	__u32 user_generation;
};

#endif
