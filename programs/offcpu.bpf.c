// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time: at sched_switch the thread leaving the CPU (prev, still `current`) has its kernel stack
 * recorded with a timestamp; when it is switched in again (next) the time it spent off CPU is measured. Blocks
 * shorter than --min-block end there, at the cost of one kernel stack walk. A longer block of a user thread
 * waits for the thread's own return from its system call (sys_exit, in its own context, its user stack still
 * as it was when it blocked): the user stack is walked there (programs/unwind.bpf.h) and the block added to
 * {pid, tid, comm, stacks} -> {total ns, count}. So the costly user walk runs only for the blocks that count.
 * A block that did not end in a system call (a page fault, a preemption) is added at the thread's next
 * switch-out without its user stack (counted).
 *
 * Windows: user space bumps `generation` at each drain. The aggregation maps are double-buffered
 * (counts_{generation % 2}), as in cpu-profile.bpf.c. The stack maps rotate over three generations
 * (stacks_{generation % 3}) because a thread that blocks in window g is summed when it wakes, possibly in
 * window g+1: its stacks must outlive the drain of window g. Stack map g % 3 is cleared by user space after
 * window g+1 is drained, before window g+3 reuses it. A thread blocked across two flips keeps its time but
 * loses its stacks (counted as lost: stack_expired).
 *
 * Handlers come as tp_btf (direct reads, task storage) and raw_tp (probe reads, hash by tid) twins. The raw_tp
 * hash holds a thread's record while it is off CPU (or its block waits for sys_exit); the record an exiting
 * thread leaves at its last switch-out is deleted when its task is freed (sched_process_free). A block whose
 * start cannot be recorded (hash full, no task storage) is counted in `lost`, on that path only.
 *
 * Wall mode (offcpu_config.wall, for the wall-clock profile): every block is counted, those below min_block
 * too (marked, with their kernel stack only), with the thread's state at switch-out (enum offcpu_state) in the
 * key and the run-queue part of the block in the value: all of it when the thread was preempted (still
 * runnable), else from its enqueue (sched_info.last_queued, set at wakeup in the run queue's clock) to the
 * switch-in, read against the same run queue's clock, so no sched_wakeup hook is needed. A preempted user
 * thread has its user stack walked as it leaves (no sys_exit will come). The records live in the CPU
 * program's task storage (programs/offcpu-record.bpf.h): each run, switch-in to switch-out, is carried in
 * pieces by the thread's CPU samples and, the rest, here at the switch-out (offcpu_value.oncpu_ns), all on
 * bpf_ktime_get_ns, so a thread's running and off-CPU time tile its life. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "offcpu.h"
#include "unwind.bpf.h"
#include "offcpu-record.bpf.h"

#define STACK_MAP_ENTRIES 8192
#define COUNTS_MAP_ENTRIES 16384
#define RAW_START_ENTRIES 16384
#define KERNEL_FRAMES_SKIPPED 2
#define TASK_RUNNING 0

const volatile struct offcpu_config offcpu_config = {
	.min_block_ns = 1000,
};

/* Written by user space between windows. */
__u32 generation = 0;

/* task_struct::state was renamed __state in 5.14 (commit 2f064a59a11f, "sched: Change task_struct::state"). */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

STACK_TRACE_MAP_DEPTH(stacks_0, STACK_MAP_ENTRIES, OFFCPU_KERNEL_STACK_DEPTH);
STACK_TRACE_MAP_DEPTH(stacks_1, STACK_MAP_ENTRIES, OFFCPU_KERNEL_STACK_DEPTH);
STACK_TRACE_MAP_DEPTH(stacks_2, STACK_MAP_ENTRIES, OFFCPU_KERNEL_STACK_DEPTH);
HASH_MAP(counts_0, struct offcpu_key, struct offcpu_value, COUNTS_MAP_ENTRIES);
HASH_MAP(counts_1, struct offcpu_key, struct offcpu_value, COUNTS_MAP_ENTRIES);
/* User stacks walked at sys_exit, in the window of the block they belong to (generation % 2). */
BPF_MAP(user_stacks_0, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_1, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
TASK_STORAGE_MAP(start_task, struct offcpu_start);
HASH_MAP(start_tid, __u32, struct offcpu_start, RAW_START_ENTRIES);
LOST_COUNTERS_MAP(lost, OFFCPU_LOST_REASONS);
/* prev is `current` here, so bpf_get_stackid walks its stack. */
static __always_inline void capture_kernel_stack(void *ctx, struct offcpu_start *s)
{
	__u32 gen = generation;
	void *stacks;
	int kid;

	switch (gen % OFFCPU_STACK_MAPS) {
	case 0: stacks = &stacks_0; break;
	case 1: stacks = &stacks_1; break;
	default: stacks = &stacks_2; break;
	}
	/* Skip our own two frames (this program, bpf_trace_runN): stacks start at __schedule. */
	kid = bpf_get_stackid(ctx, stacks, KERNEL_FRAMES_SKIPPED & BPF_F_SKIP_FIELD_MASK);
	if (kid < 0)
		count_lost(&lost, OFFCPU_LOST_KERNEL_STACK);
	s->kernel_stack_id = kid;
	s->generation = gen;
}

/* Adds a block of `delta` ns (`runnable` of it on a run queue) with the start record's kernel stack and state
 * (| `flags`) and `user_stack` (0: none). */
static __always_inline void account(struct offcpu_start *s, __u64 delta, __u64 runnable, __u64 user_stack, __u32 pid,
				    __u32 tid, const char *comm, bool direct, __u16 flags)
{
	struct offcpu_value *v;
	struct offcpu_key key = {};
	__u32 gen = generation;
	void *counts;

	key.pid = pid;
	key.tid = tid;
	key.user_stack = user_stack;
	key.state = (__u16)s->state | flags;
	if (gen - s->generation <= 1) {
		key.kernel_stack_id = s->kernel_stack_id;
		key.stack_map = s->generation % OFFCPU_STACK_MAPS;
	} else {
		key.kernel_stack_id = -1;
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
		struct offcpu_value first = { .total_ns = delta, .count = 1, .runnable_ns = runnable, .oncpu_ns = s->oncpu_ns };

		v = insert_first(counts, &key, &first, &lost, OFFCPU_LOST_COUNTS_MAP_FULL);
	}
	if (v) {
		__sync_fetch_and_add(&v->total_ns, delta);
		__sync_fetch_and_add(&v->count, 1);
		if (runnable)
			__sync_fetch_and_add(&v->runnable_ns, runnable);
		if (s->oncpu_ns)
			__sync_fetch_and_add(&v->oncpu_ns, s->oncpu_ns);
	}
	s->oncpu_ns = 0;
}

/* Wall mode: what prev is doing as it leaves the CPU. A preempted task stays on its run queue whatever its
 * state says (it may have been setting itself to sleep). */
static __always_inline __u32 state_at_switch_out(u64 *ctx, struct task_struct *prev, bool direct)
{
	long state;
	unsigned int iowait;

	if (ctx[0])
		return OFFCPU_STATE_RUNNABLE;
	if (bpf_core_field_exists(prev->__state))
		state = TASK_FIELD(direct, prev, __state);
	else
		state = TASK_FIELD(direct, (struct task_struct___pre514 *)prev, state);
	if (state == TASK_RUNNING)
		return OFFCPU_STATE_RUNNABLE;
	iowait = direct ? BPF_CORE_READ_BITFIELD(prev, in_iowait) : BPF_CORE_READ_BITFIELD_PROBED(prev, in_iowait);
	return iowait ? OFFCPU_STATE_IO : OFFCPU_STATE_SLEEPING;
}

/* Wall mode: of a block of `delta` ns ending now as `next` comes in, the time it waited on this CPU's run
 * queue since it was enqueued (woken): the run queue's clock (rq->clock, updated at the start of __schedule)
 * minus next's sched_info.last_queued, set at enqueue in that clock; sched_info_arrive() clears it only after
 * this tracepoint. At most `delta`. The run queue is reached through next's CFS run queue (every task has one
 * with CONFIG_FAIR_GROUP_SCHED): the per-CPU `runqueues` variable needs CONFIG_KALLSYMS_ALL, which these
 * kernels lack. A task that migrated while queued was enqueued again there: its wait before that counts as
 * blocked. Without the fields (no FAIR_GROUP_SCHED or SCHED_INFO), 0: the whole block counts as blocked. */
static __always_inline __u64 queued_ns(struct task_struct *next, __u64 delta, bool direct)
{
	__u64 queued, clock;

	if (!bpf_core_field_exists(next->se.cfs_rq) || !bpf_core_field_exists(next->sched_info.last_queued))
		return 0;
	if (direct) {
		queued = next->sched_info.last_queued;
		clock = next->se.cfs_rq->rq->clock;
	} else {
		queued = BPF_CORE_READ(next, sched_info.last_queued);
		clock = BPF_CORE_READ(next, se.cfs_rq, rq, clock);
	}
	if (queued == 0 || queued >= clock)
		return 0;
	return clock - queued < delta ? clock - queued : delta;
}

/* Wall mode, tp_btf: the user stack of prev, preempted (still runnable), walked now from the user registers
 * saved at its last kernel entry, into the window's user stack map. Its block will not end in a sys_exit (a
 * thread preempted in user space returns there directly), and its run-queue time belongs to this stack. Costs
 * one walk per preemption of a user thread. 0 when the walk found nothing. */
static __always_inline __u64 preempted_user_stack(struct task_struct *prev, __u32 pid, struct offcpu_start *s)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	struct user_stack *ustack;
	__u64 hash = 0;
	__u32 gen = generation;
	void *user_stacks = (gen & 1) ? (void *)&user_stacks_1 : (void *)&user_stacks_0;
	long err;

	ustack = unwind_user(pid, regs->ip, regs->sp, regs->bp, offcpu_config.unwind_tables, &hash);
	if (!ustack) {
		count_lost(&lost, OFFCPU_LOST_USER_STACK);
		return 0;
	}
	err = bpf_map_update_elem(user_stacks, &hash, ustack, BPF_NOEXIST);
	if (err != 0 && err != -EEXIST) {
		count_lost(&lost, OFFCPU_LOST_USER_STACK);
		return 0;
	}
	s->user_generation = gen;
	return hash;
}

/* The preempted block's user stack, if it is still in the map this window drains (the block ends in the window
 * it began in; else it was drained with the window before: counted, the time kept). */
static __always_inline __u64 kept_user_stack(struct offcpu_start *s)
{
	if (s->user_stack == 0)
		return 0;
	if (s->user_generation == generation)
		return s->user_stack;
	count_lost(&lost, OFFCPU_LOST_STACK_EXPIRED);
	return 0;
}

/* sched_switch(preempt, prev, next): prev leaves the CPU, next comes back to it. Start records live in task
 * storage for tp_btf, in a hash by tid for raw_tp (a thread's first record inserted from a copy on the stack,
 * an existing one changed in place). */
static __always_inline int on_switch(u64 *ctx, bool direct)
{
	struct task_struct *prev = (struct task_struct *)ctx[1], *next;
	__u64 now = bpf_ktime_get_ns(), delta, runnable = 0;
	struct offcpu_start *s, fresh = {};
	__u32 tid = TASK_FIELD(direct, prev, pid);
	bool insert = false;

	if (tid != 0 && pid_selected(&offcpu_config.filter, TASK_FIELD(direct, prev, tgid))) {
		if (direct) {
			s = bpf_task_storage_get(&start_task, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (!s)
				count_lost(&lost, OFFCPU_LOST_TASK_STORAGE);
		} else {
			s = bpf_map_lookup_elem(&start_tid, &tid);
			if (!s) {
				s = &fresh;
				insert = true;
			}
		}
		if (s) {
			/* The last block never reached a sys_exit: add it without its user stack. */
			if (s->pending_ns) {
				account(s, s->pending_ns, s->pending_runnable_ns, 0, TASK_FIELD(direct, prev, tgid), tid, prev->comm,
					direct, 0);
				count_lost(&lost, OFFCPU_LOST_USER_STACK_OUTSIDE_SYSCALL);
				s->pending_ns = 0;
			}
			capture_kernel_stack(ctx, s);
			s->state = OFFCPU_STATE_NONE;
			s->oncpu_ns = 0;
			s->user_stack = 0;
			if (offcpu_config.wall) {
				s->state = state_at_switch_out(ctx, prev, direct);
				if (direct && s->state == OFFCPU_STATE_RUNNABLE && prev->mm)
					s->user_stack = preempted_user_stack(prev, prev->tgid, s);
				/* Its CPU time since its switch-in or last CPU sample (unknown for a thread running since
				 * before the program was attached). */
				if (s->on_since && now > s->on_since)
					s->oncpu_ns = now - s->on_since;
				s->on_since = 0;
			}
			s->ts = now;
			if (insert && bpf_map_update_elem(&start_tid, &tid, s, BPF_ANY) != 0)
				count_lost(&lost, OFFCPU_LOST_START_MAP_FULL);
		}
	}
	next = (struct task_struct *)ctx[2];
	tid = TASK_FIELD(direct, next, pid);
	if (tid == 0)
		return 0;
	s = direct ? bpf_task_storage_get(&start_task, next, 0, 0) : bpf_map_lookup_elem(&start_tid, &tid);
	if (!s)
		return 0;
	/* Wall mode: its CPU time counts from now (carried by its CPU samples and at its switch-out). */
	if (offcpu_config.wall)
		s->on_since = now;
	if (s->ts == 0)
		return 0;
	delta = now - s->ts;
	s->ts = 0;
	if (offcpu_config.wall)
		runnable = s->state == OFFCPU_STATE_RUNNABLE ? delta : queued_ns(next, delta, direct);
	if (delta < offcpu_config.min_block_ns) {
		/* The wall profile's time must add up: short blocks count there, with their kernel stack only. */
		if (offcpu_config.wall)
			account(s, delta, runnable, kept_user_stack(s), TASK_FIELD(direct, next, tgid), tid, next->comm, direct,
				OFFCPU_STATE_BELOW_MIN_BLOCK);
		if (!direct)
			bpf_map_delete_elem(&start_tid, &tid);
		return 0;
	}
	/* Preempted (wall mode): its user stack was walked as it left; nothing to wait for. */
	if (s->user_stack) {
		account(s, delta, runnable, kept_user_stack(s), TASK_FIELD(direct, next, tgid), tid, next->comm, direct, 0);
		return 0;
	}
	if (TASK_FIELD(direct, next, mm)) {
		/* Its user stack is walked when it returns from its system call, in its own context. */
		s->pending_ns = delta;
		s->pending_runnable_ns = runnable;
		return 0;
	}
	account(s, delta, runnable, 0, TASK_FIELD(direct, next, tgid), tid, next->comm, direct, 0);
	if (!direct)
		bpf_map_delete_elem(&start_tid, &tid);
	return 0;
}

/* sys_exit(regs, ret), in the thread's own context: a block waiting for its user stack gets it, walked from
 * the user registers saved at system-call entry (the stack has not moved since the thread blocked). */
static __always_inline int on_sys_exit(u64 *ctx, bool direct)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid(), hash = 0, ip, sp, bp;
	__u32 tid = (__u32)id, pid = id >> 32, gen;
	struct offcpu_start *s;
	struct user_stack *ustack;
	struct pt_regs *regs;
	void *user_stacks;
	char comm[TASK_COMM_LEN];

	s = direct ? bpf_task_storage_get(&start_task, task, 0, 0) : bpf_map_lookup_elem(&start_tid, &tid);
	if (!s || s->pending_ns == 0)
		return 0;
	regs = (struct pt_regs *)ctx[0];
	if (direct) {
		ip = regs->ip;
		sp = regs->sp;
		bp = regs->bp;
	} else {
		ip = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		bp = BPF_CORE_READ(regs, bp);
	}
	ustack = unwind_user(pid, ip, sp, bp, offcpu_config.unwind_tables, &hash);
	gen = generation;
	user_stacks = (gen & 1) ? (void *)&user_stacks_1 : (void *)&user_stacks_0;
	if (!ustack) {
		hash = 0;
		count_lost(&lost, OFFCPU_LOST_USER_STACK);
	} else {
		long err = bpf_map_update_elem(user_stacks, &hash, ustack, BPF_NOEXIST);

		if (err != 0 && err != -EEXIST) {
			hash = 0;
			count_lost(&lost, OFFCPU_LOST_USER_STACK);
		}
	}
	bpf_get_current_comm(comm, sizeof(comm));
	account(s, s->pending_ns, s->pending_runnable_ns, hash, pid, tid, comm, true, 0);
	s->pending_ns = 0;
	if (!direct)
		bpf_map_delete_elem(&start_tid, &tid);
	return 0;
}

/* sched_process_free(p): raw_tp deletes the record the thread left at its last switch-out, which no switch-in
 * ends; without this every exiting thread kept an entry (the hash filled up after RAW_START_ENTRIES exits, and
 * a reused tid took the dead thread's start as a long block). Not at sched_process_exit: an exiting thread
 * still blocks and switches out after it, the last time in do_task_dead(). The task is freed an RCU grace
 * period after that last switch. tp_btf's task storage goes with the task: nothing to do. */
static __always_inline int on_free(u64 *ctx, bool direct)
{
	struct task_struct *p = (struct task_struct *)ctx[0];
	__u32 tid;

	if (direct)
		return 0;
	tid = BPF_CORE_READ(p, pid);
	bpf_map_delete_elem(&start_tid, &tid);
	return 0;
}

TRACEPOINT_TWINS(sched_switch, offcpu_switch, on_switch)
TRACEPOINT_TWINS(sys_exit, offcpu_sys_exit, on_sys_exit)
TRACEPOINT_TWINS(sched_process_free, offcpu_free, on_free)

char LICENSE[] SEC("license") = "GPL";
