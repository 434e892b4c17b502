// SPDX-License-Identifier: GPL-2.0
/* Run-queue latency: time from a task becoming runnable (woken, or preempted while still runnable) to it
 * running on a CPU, as a cumulative log2 histogram of nanoseconds.
 *
 * Each handler exists twice: tp_btf (BTF-typed arguments read directly, start times in task storage: the
 * cheapest) and raw_tp (probe reads, start times in a hash keyed by thread id), for kernels whose tp_btf or
 * task storage does not load. User space loads the tp_btf set and falls back to the raw_tp set. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "log2-hist.bpf.h"
#include "runqlat.h"

#define TASK_RUNNING 0
#define RAW_START_ENTRIES 10240

struct runq_start {
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct runq_start);
} start_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RAW_START_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} start_tid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct log2_hist);
} hist SEC(".maps");

/* task_struct::state was renamed __state in 5.14 (commit 2f064a59a11f, "sched: Change task_struct::state"). */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

/* tp_btf may dereference its BTF-typed arguments directly (no helper call); raw_tp must probe-read. */
static __always_inline long task_state(struct task_struct *t, bool direct)
{
	if (bpf_core_field_exists(t->__state))
		return direct ? t->__state : BPF_CORE_READ(t, __state);
	if (direct)
		return ((struct task_struct___pre514 *)t)->state;
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline void observe(__u64 delta)
{
	__u32 zero = RUNQLAT_HIST_KEY;
	struct log2_hist *h = bpf_map_lookup_elem(&hist, &zero);

	if (h)
		log2_hist_add(h, delta);
}

/* ---- tp_btf: direct reads, task storage ---- */

static __always_inline void enqueue_btf(struct task_struct *p, __u64 now)
{
	struct runq_start *s;

	if (p->pid == 0)
		return;
	s = bpf_task_storage_get(&start_task, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s)
		s->ts = now;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runqlat_wakeup_btf, struct task_struct *p)
{
	enqueue_btf(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runqlat_wakeup_new_btf, struct task_struct *p)
{
	enqueue_btf(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runqlat_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	struct runq_start *s;

	if (task_state(prev, true) == TASK_RUNNING)
		enqueue_btf(prev, now);
	if (next->pid == 0)
		return 0;
	s = bpf_task_storage_get(&start_task, next, 0, 0);
	if (!s || s->ts == 0)
		return 0;
	observe(now - s->ts);
	s->ts = 0;
	return 0;
}

/* ---- raw_tp: probe reads, hash by tid ---- */

static __always_inline void enqueue_raw(struct task_struct *p, __u64 now)
{
	__u32 tid = BPF_CORE_READ(p, pid);

	if (tid == 0)
		return;
	bpf_map_update_elem(&start_tid, &tid, &now, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(runqlat_wakeup_raw, struct task_struct *p)
{
	enqueue_raw(p, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runqlat_wakeup_new_raw, struct task_struct *p)
{
	enqueue_raw(p, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runqlat_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns(), *ts;
	__u32 tid;

	if (task_state(prev, false) == TASK_RUNNING)
		enqueue_raw(prev, now);
	tid = BPF_CORE_READ(next, pid);
	if (tid == 0)
		return 0;
	ts = bpf_map_lookup_elem(&start_tid, &tid);
	if (!ts)
		return 0;
	observe(now - *ts);
	bpf_map_delete_elem(&start_tid, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
