// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time: at sched_switch the thread leaving the CPU (prev, still `current`) has its kernel and user
 * stacks recorded with a timestamp; when it is switched in again (next) the time it spent off CPU is added to
 * {pid, tid, comm, stacks} -> {total ns, count}.
 *
 * Windows: user space bumps `generation` at each drain. The aggregation maps are double-buffered
 * (counts_{generation % 2}), as in cpu-profile.bpf.c. The stack maps rotate over three generations
 * (stacks_{generation % 3}) because a thread that blocks in window g is summed when it wakes, possibly in
 * window g+1: its stacks must outlive the drain of window g. Stack map g % 3 is cleared by user space after
 * window g+1 is drained, before window g+3 reuses it. A thread blocked across two flips keeps its time but
 * loses its stacks (counted as lost: stack_expired).
 *
 * Handlers come as tp_btf (direct reads, task storage) and raw_tp (probe reads, hash by tid) twins. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "offcpu.h"

#define STACK_MAP_ENTRIES 8192
#define COUNTS_MAP_ENTRIES 16384
#define RAW_START_ENTRIES 16384
#define KERNEL_FRAMES_SKIPPED 2

const volatile struct offcpu_config offcpu_config = {
	.min_block_ns = 1000,
};

/* Written by user space between windows. */
__u32 generation = 0;

struct offcpu_start {
	__u64 ts;
	__s32 kernel_stack_id;
	__s32 user_stack_id;
	__u32 generation;
	__u32 pad;
};

STACK_TRACE_MAP(stacks_0, STACK_MAP_ENTRIES);
STACK_TRACE_MAP(stacks_1, STACK_MAP_ENTRIES);
STACK_TRACE_MAP(stacks_2, STACK_MAP_ENTRIES);
HASH_MAP(counts_0, struct offcpu_key, struct offcpu_value, COUNTS_MAP_ENTRIES);
HASH_MAP(counts_1, struct offcpu_key, struct offcpu_value, COUNTS_MAP_ENTRIES);
TASK_STORAGE_MAP(start_task, struct offcpu_start);
HASH_MAP(start_tid, __u32, struct offcpu_start, RAW_START_ENTRIES);
LOST_COUNTERS_MAP(lost, OFFCPU_LOST_REASONS);

/* prev is `current` here, so bpf_get_stackid walks its stacks. */
static __always_inline void capture_stacks(void *ctx, struct offcpu_start *s, bool has_mm)
{
	__u32 gen = generation;
	void *stacks;
	int kid, uid = -EFAULT;

	switch (gen % OFFCPU_STACK_MAPS) {
	case 0: stacks = &stacks_0; break;
	case 1: stacks = &stacks_1; break;
	default: stacks = &stacks_2; break;
	}
	/* Skip our own two frames (this program, bpf_trace_runN): stacks start at __schedule. */
	kid = bpf_get_stackid(ctx, stacks, KERNEL_FRAMES_SKIPPED & BPF_F_SKIP_FIELD_MASK);
	if (kid < 0)
		count_lost(&lost, OFFCPU_LOST_KERNEL_STACK);
	/* Kernel threads have no user stack to walk. */
	if (has_mm) {
		uid = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (uid < 0)
			count_lost(&lost, OFFCPU_LOST_USER_STACK);
	}
	s->kernel_stack_id = kid;
	s->user_stack_id = uid;
	s->generation = gen;
}

static __always_inline void account(struct offcpu_start *s, __u64 now, __u32 pid, __u32 tid, const char *comm,
				    bool direct)
{
	struct offcpu_value *v;
	struct offcpu_key key = {};
	__u64 delta = now - s->ts;
	__u32 gen = generation;
	void *counts;

	s->ts = 0;
	if (delta < offcpu_config.min_block_ns)
		return;
	key.thread.pid = pid;
	key.thread.tid = tid;
	if (gen - s->generation <= 1) {
		key.thread.kernel_stack_id = s->kernel_stack_id;
		key.thread.user_stack_id = s->user_stack_id;
		key.stack_map = s->generation % OFFCPU_STACK_MAPS;
	} else {
		key.thread.kernel_stack_id = -1;
		key.thread.user_stack_id = -1;
		key.stack_map = gen % OFFCPU_STACK_MAPS;
		count_lost(&lost, OFFCPU_LOST_STACK_EXPIRED);
	}
	/* tp_btf: two plain loads; raw_tp needs a probe read. */
	if (direct)
		__builtin_memcpy(key.comm, comm, TASK_COMM_LEN);
	else
		bpf_probe_read_kernel(key.comm, TASK_COMM_LEN, comm);

	counts = (gen & 1) ? (void *)&counts_1 : (void *)&counts_0;
	v = bpf_map_lookup_elem(counts, &key);
	if (!v) {
		struct offcpu_value first = { .total_ns = delta, .count = 1 };

		v = insert_first(counts, &key, &first, &lost, OFFCPU_LOST_COUNTS_MAP_FULL);
	}
	if (v) {
		__sync_fetch_and_add(&v->total_ns, delta);
		__sync_fetch_and_add(&v->count, 1);
	}
}

/* sched_switch(preempt, prev, next): prev leaves the CPU, next comes back to it. Start records live in task
 * storage for tp_btf, in a hash by tid (written from a copy on the stack) for raw_tp. */
static __always_inline int on_switch(u64 *ctx, bool direct)
{
	struct task_struct *prev = (struct task_struct *)ctx[1], *next;
	__u64 now = bpf_ktime_get_ns();
	struct offcpu_start *s, fresh = {};
	__u32 tid = TASK_FIELD(direct, prev, pid);

	if (tid != 0 && pid_selected(&offcpu_config.filter, TASK_FIELD(direct, prev, tgid))) {
		s = direct ? bpf_task_storage_get(&start_task, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE) : &fresh;
		if (s) {
			capture_stacks(ctx, s, TASK_FIELD(direct, prev, mm) != NULL);
			s->ts = now;
			if (!direct)
				bpf_map_update_elem(&start_tid, &tid, s, BPF_ANY);
		}
	}
	next = (struct task_struct *)ctx[2];
	tid = TASK_FIELD(direct, next, pid);
	if (tid == 0)
		return 0;
	s = direct ? bpf_task_storage_get(&start_task, next, 0, 0) : bpf_map_lookup_elem(&start_tid, &tid);
	if (s && s->ts != 0) {
		account(s, now, TASK_FIELD(direct, next, tgid), tid, next->comm, direct);
		if (!direct)
			bpf_map_delete_elem(&start_tid, &tid);
	}
	return 0;
}

TRACEPOINT_TWINS(sched_switch, offcpu_switch, on_switch)

char LICENSE[] SEC("license") = "GPL";
