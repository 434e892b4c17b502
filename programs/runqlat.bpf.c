// SPDX-License-Identifier: GPL-2.0
/* Run-queue latency: time from a task becoming runnable (woken, or preempted while still runnable) to it
 * running on a CPU, as a cumulative log2 histogram of nanoseconds.
 *
 * Each handler exists twice: tp_btf (BTF-typed arguments read directly, start times in task storage: the
 * cheapest) and raw_tp (probe reads, start times in a hash keyed by thread id), for kernels whose tp_btf or
 * task storage does not load. User space loads the tp_btf set and falls back to the raw_tp set.
 * A start time that cannot be kept (hash full, no task storage) is counted in `lost`, on that path only.
 * With runqlat_config.per_cgroup the waits go into one histogram per cgroup v2 of the task that waited. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "log2-hist.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0
#define RAW_START_ENTRIES 10240

struct runq_start {
	__u64 ts;
};

TASK_STORAGE_MAP(start_task, struct runq_start);
HASH_MAP(start_tid, __u32, __u64, RAW_START_ENTRIES);
PERCPU_ARRAY_MAP(hist, struct log2_hist, 1);
PERCPU_HASH_MAP(cgroup_hists, __u64, struct log2_hist, RUNQLAT_CGROUP_ENTRIES);

const volatile struct runqlat_config runqlat_config = {};
LOST_COUNTERS_MAP(lost, RUNQLAT_LOST_REASONS);

/* task_struct::state was renamed __state in 5.14 (commit 2f064a59a11f, "sched: Change task_struct::state"). */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

/* tp_btf (`direct`) may dereference its BTF-typed arguments; raw_tp must probe-read. */
static __always_inline long task_state(struct task_struct *t, bool direct)
{
	if (bpf_core_field_exists(t->__state))
		return TASK_FIELD(direct, t, __state);
	return TASK_FIELD(direct, (struct task_struct___pre514 *)t, state);
}

/* The histogram of cgroup `id`, added on its first wait on this CPU; the overflow entry once the map is full. */
static __always_inline struct log2_hist *cgroup_hist(__u64 id)
{
	struct log2_hist *h = bpf_map_lookup_elem(&cgroup_hists, &id);
	struct log2_hist zero = {};

	if (h)
		return h;
	bpf_map_update_elem(&cgroup_hists, &id, &zero, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&cgroup_hists, &id);
	if (h)
		return h;
	id = RUNQLAT_CGROUP_OVERFLOW;
	h = bpf_map_lookup_elem(&cgroup_hists, &id);
	if (h)
		return h;
	bpf_map_update_elem(&cgroup_hists, &id, &zero, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&cgroup_hists, &id);
	if (!h)
		count_lost(&lost, RUNQLAT_LOST_CGROUP_MAP_FULL);
	return h;
}

/* `t` waited `delta` ns for a CPU. Its cgroup is the one it runs in now (cgroup v2: task->cgroups->dfl_cgrp). */
static __always_inline void observe(struct task_struct *t, __u64 delta)
{
	__u32 zero = RUNQLAT_HIST_KEY;
	struct log2_hist *h;

	if (runqlat_config.per_cgroup)
		h = cgroup_hist(BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id));
	else
		h = bpf_map_lookup_elem(&hist, &zero);
	if (h)
		log2_hist_add(h, delta);
}

/* `p` became runnable at `now`. Start times live in task storage for tp_btf, in a hash by tid for raw_tp. */
static __always_inline void enqueue(struct task_struct *p, __u64 now, bool direct)
{
	__u32 tid = TASK_FIELD(direct, p, pid);
	struct runq_start *s;

	if (tid == 0)
		return;
	if (direct) {
		s = bpf_task_storage_get(&start_task, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (s)
			s->ts = now;
		else
			count_lost(&lost, RUNQLAT_LOST_TASK_STORAGE);
	} else if (bpf_map_update_elem(&start_tid, &tid, &now, BPF_ANY) != 0) {
		count_lost(&lost, RUNQLAT_LOST_START_MAP_FULL);
	}
}

/* sched_wakeup(p), sched_wakeup_new(p): p is the wakee (`current` is the waker). */
static __always_inline int on_wakeup(u64 *ctx, bool direct)
{
	enqueue((struct task_struct *)ctx[0], bpf_ktime_get_ns(), direct);
	return 0;
}

/* sched_switch(preempt, prev, next): prev leaves the CPU (still runnable when preempted: it queues again),
 * next runs: its wait ends. */
static __always_inline int on_switch(u64 *ctx, bool direct)
{
	struct task_struct *prev = (struct task_struct *)ctx[1], *next = (struct task_struct *)ctx[2];
	__u64 now = bpf_ktime_get_ns(), *ts;
	struct runq_start *s;
	__u32 tid;

	if (task_state(prev, direct) == TASK_RUNNING)
		enqueue(prev, now, direct);
	tid = TASK_FIELD(direct, next, pid);
	if (tid == 0)
		return 0;
	if (direct) {
		s = bpf_task_storage_get(&start_task, next, 0, 0);
		if (!s || s->ts == 0)
			return 0;
		observe(next, now - s->ts);
		s->ts = 0;
	} else {
		ts = bpf_map_lookup_elem(&start_tid, &tid);
		if (!ts)
			return 0;
		observe(next, now - *ts);
		bpf_map_delete_elem(&start_tid, &tid);
	}
	return 0;
}

TRACEPOINT_TWINS(sched_wakeup, runqlat_wakeup, on_wakeup)
TRACEPOINT_TWINS(sched_wakeup_new, runqlat_wakeup_new, on_wakeup)
TRACEPOINT_TWINS(sched_switch, runqlat_switch, on_switch)

char LICENSE[] SEC("license") = "GPL";
