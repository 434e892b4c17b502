// SPDX-License-Identifier: GPL-2.0
/* I/O time by issuing stack: each block request carries the stacks of the task that submitted it, and its
 * time from issue to the device (block_rq_issue) to completion (block_rq_complete) is added to
 * {pid, tid, comm, kernel and user stacks, disk, operation} -> {total ns, requests}.
 *
 * Who submitted: block_io_start (6.5+) runs when a bio becomes a new request, in the context of the task that
 * submitted the bio (blk_mq_submit_bio). block_rq_issue is no good for that: with an I/O scheduler (mq-deadline
 * here) requests are dispatched by whichever task runs the hardware queue next, or by a kblockd worker. So the
 * stacks are taken at block_io_start into a record keyed by the request, and block_rq_issue only stamps the
 * issue time. A request issued without a record (a flush the block layer made itself, a passthrough command, or
 * a kernel without block_io_start, where user space leaves that hook out) is recorded at issue, from `current`.
 * A bio merged into an existing request makes no new request: its I/O is counted in that request, under the
 * task that started it. The time counted is issue -> completion, as biolatency's and
 * hotpath_block_io_latency_seconds', so the request counts and sums agree with them; queueing in the scheduler
 * is not in it. Completion may run in interrupt context: everything is taken from the request and the record.
 *
 * Windows: as offcpu.bpf.c. The aggregation maps are double-buffered (counts_{generation % 2}); the kernel and
 * user stack maps rotate over three generations ({stacks,user_stacks}_{generation % 3}) because a request
 * started in window g may complete in window g+1. A request in flight across two flips keeps its time but
 * loses its stacks (stack_expired). A request whose record finds no room is counted in `lost` and not measured. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "block.bpf.h"
#include "io.h"
#include "unwind.bpf.h"
#include "kernel-stack.bpf.h"

#define STACK_MAP_ENTRIES 2048
#define COUNTS_MAP_ENTRIES 4096
/* Requests in flight (plus records of requests merged away, until their request is reused): the sum of the
 * queue depths of the busiest machines' disks is in the low thousands. */
#define REQUEST_ENTRIES 10240
/* Threads whose last walk is remembered. */
#define WALK_CACHE_ENTRIES 8192

const volatile struct io_config io_config = {};

/* Written by user space between windows. */
__u32 generation = 0;

/* What a request carries from its start to its completion: 56 bytes. */
struct io_request {
	__u64 issue_ns;     /* 0: not issued yet */
	__u64 kernel_stack; /* hash in stacks_{generation % 3}; 0: none */
	__u64 user_stack;   /* hash in user_stacks_{generation % 3}; 0: none */
	__u32 pid;          /* 0: a process the pid filter leaves out (the request is not counted) */
	__u32 tid;
	__u32 generation;   /* of the stacks */
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

/* Kernel stacks in our own maps as user stacks are (programs/kernel-stack.bpf.h). */
BPF_MAP(stacks_0, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(stacks_1, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(stacks_2, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_0, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_1, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_2, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
HASH_MAP(counts_0, struct io_key, struct io_value, COUNTS_MAP_ENTRIES);
HASH_MAP(counts_1, struct io_key, struct io_value, COUNTS_MAP_ENTRIES);
HASH_MAP(requests, __u64 /* struct request * */, struct io_request, REQUEST_ENTRIES);
LOST_COUNTERS_MAP(lost, IO_LOST_REASONS);

/* A thread's last user stack walk: where it was (the system call's user registers and the two words its frame
 * pointer points at: the caller's saved frame pointer and return address) and the hash of the frames found.
 * A thread that does I/O in a loop submits from the same place every time; the walk (about 11 us here, two
 * thirds of a request's cost) is done once per place and window. Two call paths that reach the system call
 * with the same registers and the same caller's frame are taken for one. */
struct walk_cache {
	__u64 ip, sp, bp;
	__u64 link[2];
	__u64 hash;
	__u32 generation; /* the window whose user_stacks map holds the stack */
	__u32 pad;
};

/* By tid; the least recently used threads go first. */
BPF_MAP(walks, BPF_MAP_TYPE_LRU_HASH, __u32, struct walk_cache, WALK_CACHE_ENTRIES, 0);

/* The stacks of `current` into `r`. */
static __always_inline void capture_stacks(void *ctx, struct io_request *r, __u32 pid, bool direct)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct walk_cache *cached, fresh = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct user_stack *ustack;
	struct pt_regs *regs;
	void *stacks, *user_stacks;
	__u32 gen = generation;
	__u64 hash = 0, ip, sp, bp;
	bool refused;

	switch (gen % IO_STACK_MAPS) {
	case 0: stacks = &stacks_0; user_stacks = &user_stacks_0; break;
	case 1: stacks = &stacks_1; user_stacks = &user_stacks_1; break;
	default: stacks = &stacks_2; user_stacks = &user_stacks_2; break;
	}
	r->generation = gen;
	/* Block requests are started in the kernel: a missing stack is a loss too. */
	r->kernel_stack = kernel_stack_stored(ctx, stacks, &refused);
	if (!r->kernel_stack)
		count_lost(&lost, IO_LOST_KERNEL_STACK);
	r->user_stack = 0;
	/* Kernel threads (writeback, kblockd) have no user stack. */
	if (!TASK_FIELD(direct, task, mm))
		return;
	/* The user registers saved at kernel entry: the submitting system call's. */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (direct) {
		ip = regs->ip;
		sp = regs->sp;
		bp = regs->bp;
	} else {
		ip = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		bp = BPF_CORE_READ(regs, bp);
	}
	fresh.ip = ip;
	fresh.sp = sp;
	fresh.bp = bp;
	if (bp == 0 || bpf_probe_read_user(fresh.link, sizeof(fresh.link), (void *)bp) != 0)
		fresh.link[0] = fresh.link[1] = 0;
	cached = bpf_map_lookup_elem(&walks, &tid);
	if (cached && cached->generation == gen && cached->ip == ip && cached->sp == sp && cached->bp == bp &&
	    cached->link[0] == fresh.link[0] && cached->link[1] == fresh.link[1]) {
		r->user_stack = cached->hash;
		return;
	}
	ustack = unwind_user(pid, ip, sp, bp, io_config.unwind_tables, &hash);
	if (!ustack) {
		count_lost(&lost, IO_LOST_USER_STACK);
		return;
	}
	long err = bpf_map_update_elem(user_stacks, &hash, ustack, BPF_NOEXIST);

	if (err != 0 && err != -EEXIST) {
		count_lost(&lost, IO_LOST_USER_STACK);
		return;
	}
	r->user_stack = hash;
	fresh.hash = hash;
	fresh.generation = gen;
	bpf_map_update_elem(&walks, &tid, &fresh, BPF_ANY);
}

/* A new record for request `key`, submitted by `current`. A process the filter leaves out gets a record too
 * (pid 0, no stacks), so that its request is not taken for one of the dispatching task's at issue. */
static __always_inline void record(void *ctx, __u64 key, __u64 issue_ns, bool direct)
{
	struct io_request r = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;

	r.issue_ns = issue_ns;
	if (pid_selected(&io_config.filter, pid)) {
		r.pid = pid;
		r.tid = (__u32)id;
		bpf_get_current_comm(r.comm, sizeof(r.comm));
		capture_stacks(ctx, &r, pid, direct);
	}
	if (bpf_map_update_elem(&requests, &key, &r, BPF_ANY) != 0)
		count_lost(&lost, IO_LOST_REQUEST_MAP_FULL);
}

/* block_io_start(rq), in the submitting task's context: the request is new (a reused request's old record
 * is replaced). */
static __always_inline int on_start(u64 *ctx, bool direct)
{
	record(ctx, ctx[0], 0, direct);
	return 0;
}

/* block_rq_issue(rq), or (q, rq) before Linux 5.11 (see biolatency.bpf.c): stamps the record, or records a
 * request that did not pass block_io_start. A requeued request is stamped again when it is issued again. */
static __always_inline int on_issue(u64 *ctx, bool direct)
{
	__u64 key = io_config.issue_rq_arg == 1 ? ctx[1] : ctx[0], now = bpf_ktime_get_ns();
	struct io_request *r = bpf_map_lookup_elem(&requests, &key);

	if (r)
		r->issue_ns = now;
	else
		record(ctx, key, now, direct);
	return 0;
}

/* block_rq_complete(rq, error, nr_bytes): the record's time goes to its stacks' total. */
static __always_inline int on_complete(u64 *ctx, bool direct)
{
	struct request *rq = (struct request *)ctx[0];
	__u64 key = (__u64)rq, delta;
	struct io_request *r = bpf_map_lookup_elem(&requests, &key);
	struct io_key k = {};
	struct io_value *v;
	struct gendisk *disk;
	__u32 gen = generation;
	void *counts;

	if (!r)
		return 0;
	if (r->issue_ns == 0 || r->pid == 0) {
		bpf_map_delete_elem(&requests, &key);
		return 0;
	}
	delta = bpf_ktime_get_ns() - r->issue_ns;
	k.pid = r->pid;
	k.tid = r->tid;
	__builtin_memcpy(k.comm, r->comm, TASK_COMM_LEN);
	if (gen - r->generation <= 1) {
		k.kernel_stack = r->kernel_stack;
		k.user_stack = r->user_stack;
		k.stack_map = r->generation % IO_STACK_MAPS;
	} else {
		k.stack_map = gen % IO_STACK_MAPS;
		count_lost(&lost, IO_LOST_STACK_EXPIRED);
	}
	bpf_map_delete_elem(&requests, &key);

	disk = request_disk(rq);
	if (disk) {
		k.major = BPF_CORE_READ(disk, major);
		k.minor = BPF_CORE_READ(disk, first_minor);
	}
	k.op = op_class(BPF_CORE_READ(rq, cmd_flags));

	counts = (gen & 1) ? (void *)&counts_1 : (void *)&counts_0;
	v = bpf_map_lookup_elem(counts, &k);
	if (!v) {
		struct io_value first = { .total_ns = delta, .count = 1 };

		v = insert_first(counts, &k, &first, &lost, IO_LOST_COUNTS_MAP_FULL);
	}
	if (v) {
		__sync_fetch_and_add(&v->total_ns, delta);
		__sync_fetch_and_add(&v->count, 1);
	}
	return 0;
}

TRACEPOINT_TWINS(block_io_start, io_start, on_start)
TRACEPOINT_TWINS(block_rq_issue, io_issue, on_issue)
TRACEPOINT_TWINS(block_rq_complete, io_complete, on_complete)

char LICENSE[] SEC("license") = "GPL";
