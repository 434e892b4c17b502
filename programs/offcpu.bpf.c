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
#include <bpf/bpf_tracing.h>
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

#define STACK_MAP(name)                                                              \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                  \
		__uint(key_size, sizeof(__u32));                                         \
		__uint(value_size, OFFCPU_MAX_STACK_DEPTH * sizeof(__u64));              \
		__uint(max_entries, STACK_MAP_ENTRIES);                                  \
	} name SEC(".maps")

#define COUNTS_MAP(name)                                                             \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_HASH);                                         \
		__uint(max_entries, COUNTS_MAP_ENTRIES);                                 \
		__type(key, struct offcpu_key);                                          \
		__type(value, struct offcpu_value);                                      \
	} name SEC(".maps")

STACK_MAP(stacks_0);
STACK_MAP(stacks_1);
STACK_MAP(stacks_2);
COUNTS_MAP(counts_0);
COUNTS_MAP(counts_1);

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct offcpu_start);
} start_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RAW_START_ENTRIES);
	__type(key, __u32);
	__type(value, struct offcpu_start);
} start_tid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OFFCPU_LOST_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &reason);

	if (n)
		*n += 1;
}

static __always_inline bool pid_selected(__u32 pid)
{
	if (offcpu_config.filter_pid_count == 0)
		return true;
	for (int i = 0; i < OFFCPU_MAX_FILTER_PIDS; i++) {
		if (i >= offcpu_config.filter_pid_count)
			break;
		if (offcpu_config.filter_pids[i] == pid)
			return true;
	}
	return false;
}

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
		count_lost(OFFCPU_LOST_KERNEL_STACK);
	/* Kernel threads have no user stack to walk. */
	if (has_mm) {
		uid = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (uid < 0)
			count_lost(OFFCPU_LOST_USER_STACK);
	}
	s->kernel_stack_id = kid;
	s->user_stack_id = uid;
	s->generation = gen;
}

static __always_inline void account(struct offcpu_start *s, __u64 now, __u32 pid, __u32 tid, const char *comm,
				    bool direct)
{
	struct offcpu_value one, *v;
	struct offcpu_key key = {};
	__u64 delta = now - s->ts;
	__u32 gen = generation;
	void *counts;

	s->ts = 0;
	if (delta < offcpu_config.min_block_ns)
		return;
	key.pid = pid;
	key.tid = tid;
	if (gen - s->generation <= 1) {
		key.kernel_stack_id = s->kernel_stack_id;
		key.user_stack_id = s->user_stack_id;
		key.stack_map = s->generation % OFFCPU_STACK_MAPS;
	} else {
		key.kernel_stack_id = -1;
		key.user_stack_id = -1;
		key.stack_map = gen % OFFCPU_STACK_MAPS;
		count_lost(OFFCPU_LOST_STACK_EXPIRED);
	}
	/* tp_btf: two plain loads; raw_tp needs a probe read. */
	if (direct)
		__builtin_memcpy(key.comm, comm, OFFCPU_COMM_LEN);
	else
		bpf_probe_read_kernel(key.comm, OFFCPU_COMM_LEN, comm);

	counts = (gen & 1) ? (void *)&counts_1 : (void *)&counts_0;
	v = bpf_map_lookup_elem(counts, &key);
	if (v) {
		__sync_fetch_and_add(&v->total_ns, delta);
		__sync_fetch_and_add(&v->count, 1);
		return;
	}
	one.total_ns = delta;
	one.count = 1;
	if (bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST) != 0) {
		/* Another CPU may have inserted the key first. */
		v = bpf_map_lookup_elem(counts, &key);
		if (v) {
			__sync_fetch_and_add(&v->total_ns, delta);
			__sync_fetch_and_add(&v->count, 1);
		} else {
			count_lost(OFFCPU_LOST_COUNTS_MAP_FULL);
		}
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	struct offcpu_start *s;

	if (prev->pid != 0 && pid_selected(prev->tgid)) {
		s = bpf_task_storage_get(&start_task, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (s) {
			capture_stacks(ctx, s, prev->mm != NULL);
			s->ts = now;
		}
	}
	if (next->pid == 0)
		return 0;
	s = bpf_task_storage_get(&start_task, next, 0, 0);
	if (s && s->ts != 0)
		account(s, now, next->tgid, next->pid, next->comm, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(offcpu_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	struct offcpu_start *s, fresh = {};
	__u32 tid = BPF_CORE_READ(prev, pid);

	if (tid != 0 && pid_selected(BPF_CORE_READ(prev, tgid))) {
		capture_stacks(ctx, &fresh, BPF_CORE_READ(prev, mm) != NULL);
		fresh.ts = now;
		bpf_map_update_elem(&start_tid, &tid, &fresh, BPF_ANY);
	}
	tid = BPF_CORE_READ(next, pid);
	if (tid == 0)
		return 0;
	s = bpf_map_lookup_elem(&start_tid, &tid);
	if (s && s->ts != 0) {
		account(s, now, BPF_CORE_READ(next, tgid), tid, next->comm, false);
		bpf_map_delete_elem(&start_tid, &tid);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
