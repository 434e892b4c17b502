// SPDX-License-Identifier: GPL-2.0
/* CPU sampling: runs on every software cpu-clock perf event, records the kernel and user stacks of the
 * interrupted task and counts samples per (process, thread, comm, stacks) in the kernel. User stacks are walked by
 * programs/unwind.bpf.h (tables, else frame pointers); both stacks are kept in our own hash maps keyed by a
 * 64-bit hash of their frames (programs/kernel-stack.bpf.h), so no stack is lost to an id collision.
 *
 * Double buffering (the window protocol, collector/bpf/window-protocol.ts): the aggregation maps come in
 * pairs and `generation & 1` selects the pair the program writes; user space bumps the generation, waits for
 * programs in flight to finish, then drains and clears the idle pair, so a drain never races the kernel and
 * no sample is lost or counted twice. The stack maps are paired too: deleting drained stacks from a shared
 * map could remove a stack a new sample still refers to. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "cpu-profile.h"
#include "unwind.bpf.h"
#include "kernel-stack.bpf.h"
#include "offcpu-record.bpf.h"

#define STACK_MAP_ENTRIES 16384
#define COUNTS_MAP_ENTRIES 32768
#define USER_SPACE_END 0x0000800000000000ULL

const volatile struct cpu_profile_config cpu_config = {};

/* The window generation: bumped by user space at each drain; the first (and only) .bss variable. */
__u32 generation = 0;

/* Allocated as stacks arrive: a window holds far fewer distinct stacks than the bound. */
BPF_MAP(stacks_0, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(stacks_1, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_0, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
BPF_MAP(user_stacks_1, BPF_MAP_TYPE_HASH, __u64, struct user_stack, STACK_MAP_ENTRIES, BPF_F_NO_PREALLOC);
HASH_MAP(counts_0, struct cpu_sample_key, struct cpu_sample_value, COUNTS_MAP_ENTRIES);
HASH_MAP(counts_1, struct cpu_sample_key, struct cpu_sample_value, COUNTS_MAP_ENTRIES);
/* The off-CPU program's per-thread records, made here and shared with it for the wall profile (on_since: when
 * the thread's CPU time was last carried). */
TASK_STORAGE_MAP(wall_task, struct offcpu_start);
LOST_COUNTERS_MAP(lost, LOST_REASONS);

/* The user stack of the current task, walked into the per-CPU scratch, its hash in *hash; NULL if none. */
static __always_inline struct user_stack *user_stack_walked(struct bpf_perf_event_data *ctx, struct task_struct *task,
							    __u32 pid, __u64 *hash)
{
	__u64 ip, sp, bp;

	/* The interrupted registers, loaded unconditionally: the context allows only direct 8-byte loads, which a
	 * load behind a branch may not stay. */
	ip = ctx->regs.ip;
	sp = ctx->regs.sp;
	bp = ctx->regs.bp;
	asm volatile("" : "+r"(ip), "+r"(sp), "+r"(bp));
	/* A kernel ip (x86-64: above the canonical hole) means the sample interrupted the kernel: take the user
	 * registers saved at kernel entry. */
	if (ip >= USER_SPACE_END) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

		ip = regs->ip;
		sp = regs->sp;
		bp = regs->bp;
	}
	return unwind_user(pid, ip, sp, bp, cpu_config.unwind_tables, hash);
}

/* The kernel's own frame-pointer walk (no bpf_loop needed), into the per-CPU scratch, hashed as the walker
 * hashes. For --unwind fp, and for kernels without bpf_loop (before 5.17). */
static __always_inline struct user_stack *user_stack_by_kernel(struct bpf_perf_event_data *ctx, __u64 *hash)
{
	__u32 zero = 0;
	struct user_stack *st = bpf_map_lookup_elem(&unwind_scratch, &zero);
	long n;
	__u64 h = 0xcbf29ce484222325ULL;

	if (!st)
		return NULL;
	n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
	if (n <= 0)
		return NULL;
	st->len = n / sizeof(__u64);
	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= st->len)
			break;
		h = (h ^ st->ips[i]) * 0x9E3779B97F4A7C15ULL;
		h ^= h >> 31;
	}
	*hash = h ? h : 1;
	return st;
}

/* One sample. `walker`: user stacks by programs/unwind.bpf.h (tables, then frame pointers), else by the
 * kernel's frame-pointer walk. A constant at each inlined use. */
static __always_inline int sample(struct bpf_perf_event_data *ctx, bool walker)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cpu_sample_key key = {};
	void *stacks, *counts, *user_stacks;
	struct cpu_sample_value first, *v;
	__u64 hash = 0, cpu_ns = cpu_config.period_ns;
	struct user_stack *ustack;
	bool refused;

	key.pid = id >> 32;
	key.tid = (__u32)id;
	if (key.tid == 0 && !cpu_config.include_idle)
		return 0;
	if (!pid_selected(&cpu_config.filter, key.pid))
		return 0;

	if ((generation & 1) == 0) {
		stacks = &stacks_0;
		counts = &counts_0;
		user_stacks = &user_stacks_0;
	} else {
		stacks = &stacks_1;
		counts = &counts_1;
		user_stacks = &user_stacks_1;
	}

	/* No kernel stack when the sample hit user mode: nothing lost. */
	key.kernel_stack = kernel_stack_stored(ctx, stacks, &refused);
	if (refused)
		count_lost(&lost, LOST_KERNEL_STACKS_MAP_FULL);

	struct task_struct *task = bpf_get_current_task_btf();
	/* Wall: the thread's CPU time since its switch-in or its previous sample. A thread not seen coming in (on CPU
	 * since before the off-CPU program was attached) counts period_ns; storage busy on this CPU (a program
	 * using it was interrupted), nothing: its next mark carries the time. Idle tasks share tid 0: not kept. */
	if (cpu_config.wall && key.tid != 0) {
		struct offcpu_start *r = bpf_task_storage_get(&wall_task, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		__u64 now = bpf_ktime_get_ns();

		if (!r) {
			cpu_ns = 0;
		} else {
			if (r->on_since && now > r->on_since)
				cpu_ns = now - r->on_since;
			r->on_since = now;
		}
	}
	/* Kernel threads have no user stack to walk. */
	if (task->mm) {
		ustack = walker ? user_stack_walked(ctx, task, key.pid, &hash) : user_stack_by_kernel(ctx, &hash);
		if (!ustack) {
			count_lost(&lost, LOST_USER_STACK_MISSING);
		} else {
			long err = bpf_map_update_elem(user_stacks, &hash, ustack, BPF_NOEXIST);

			if (err == 0 || err == -EEXIST)
				key.user_stack = hash;
			else
				count_lost(&lost, LOST_USER_STACKS_MAP_FULL);
		}
	}
	bpf_get_current_comm(&key.comm, sizeof(key.comm));

	v = bpf_map_lookup_elem(counts, &key);
	if (!v) {
		first.count = 1;
		first.cpu_ns = cpu_ns;
		v = insert_first(counts, &key, &first, &lost, LOST_COUNTS_MAP_FULL);
	}
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->cpu_ns, cpu_ns);
	}
	return 0;
}

/* Twins: user space loads one (collector/sources/cpu.ts): the walker where the kernel has bpf_loop and
 * --unwind dwarf, else the kernel's frame-pointer walk. */
SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, true);
}

SEC("perf_event")
int sample_cpu_fp(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, false);
}

char LICENSE[] SEC("license") = "GPL";
