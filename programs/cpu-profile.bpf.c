// SPDX-License-Identifier: GPL-2.0
/* CPU sampling: runs on every software cpu-clock perf event, records the kernel and user stacks of the
 * interrupted task and counts samples per (process, thread, comm, stacks) in the kernel.
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

#define STACK_MAP_ENTRIES 16384
#define COUNTS_MAP_ENTRIES 32768

const volatile struct cpu_profile_config cpu_config = {};

/* The window generation: bumped by user space at each drain; the first (and only) .bss variable. */
__u32 generation = 0;

STACK_TRACE_MAP(stacks_0, STACK_MAP_ENTRIES);
STACK_TRACE_MAP(stacks_1, STACK_MAP_ENTRIES);
HASH_MAP(counts_0, struct cpu_sample_key, __u64, COUNTS_MAP_ENTRIES);
HASH_MAP(counts_1, struct cpu_sample_key, __u64, COUNTS_MAP_ENTRIES);
LOST_COUNTERS_MAP(lost, LOST_REASONS);

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cpu_sample_key key = {};
	void *stacks, *counts;
	__u64 one = 1, *count;
	int kid, uid;

	key.thread.pid = id >> 32;
	key.thread.tid = (__u32)id;
	if (key.thread.tid == 0 && !cpu_config.include_idle)
		return 0;
	if (!pid_selected(&cpu_config.filter, key.thread.pid))
		return 0;

	if ((generation & 1) == 0) {
		stacks = &stacks_0;
		counts = &counts_0;
	} else {
		stacks = &stacks_1;
		counts = &counts_1;
	}

	/* -EFAULT for a kernel stack means the sample hit user mode: no kernel stack, nothing lost. */
	kid = bpf_get_stackid(ctx, stacks, 0);
	if (kid == -EEXIST)
		count_lost(&lost, LOST_KERNEL_STACK_COLLISION);
	key.thread.kernel_stack_id = kid;

	uid = -EFAULT;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* Kernel threads have no user stack to walk. */
	if (BPF_CORE_READ(task, mm)) {
		uid = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (uid == -EEXIST)
			count_lost(&lost, LOST_USER_STACK_COLLISION);
		else if (uid < 0)
			count_lost(&lost, LOST_USER_STACK_MISSING);
	}
	key.thread.user_stack_id = uid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));

	count = bpf_map_lookup_elem(counts, &key);
	if (!count)
		count = insert_first(counts, &key, &one, &lost, LOST_COUNTS_MAP_FULL);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
