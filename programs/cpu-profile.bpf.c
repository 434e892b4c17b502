// SPDX-License-Identifier: GPL-2.0
/* CPU sampling: runs on every software cpu-clock perf event, records the kernel and user stacks of the
 * interrupted task and counts samples per (process, thread, comm, stacks) in the kernel.
 *
 * Double buffering: the aggregation maps come in pairs. `active_buffer` selects the pair the program writes;
 * user space flips it, waits for programs in flight to finish, then drains and clears the idle pair, so a
 * drain never races the kernel and no sample is lost or counted twice. The stack maps are paired too:
 * deleting drained stacks from a shared map could remove a stack a new sample still refers to. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "cpu-profile.h"

#define STACK_MAP_ENTRIES 16384
#define COUNTS_MAP_ENTRIES 32768

const volatile struct cpu_profile_config cpu_config = {};

/* Written by user space between windows; 0 or 1. */
__u32 active_buffer = 0;

#define STACK_MAP(name)                                                              \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                  \
		__uint(key_size, sizeof(__u32));                                         \
		__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));                     \
		__uint(max_entries, STACK_MAP_ENTRIES);                                  \
	} name SEC(".maps")

#define COUNTS_MAP(name)                                                             \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_HASH);                                         \
		__uint(max_entries, COUNTS_MAP_ENTRIES);                                 \
		__type(key, struct cpu_sample_key);                                      \
		__type(value, __u64);                                                    \
	} name SEC(".maps")

STACK_MAP(stacks_0);
STACK_MAP(stacks_1);
COUNTS_MAP(counts_0);
COUNTS_MAP(counts_1);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_REASONS);
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
	if (cpu_config.filter_pid_count == 0)
		return true;
	for (int i = 0; i < MAX_FILTER_PIDS; i++) {
		if (i >= cpu_config.filter_pid_count)
			break;
		if (cpu_config.filter_pids[i] == pid)
			return true;
	}
	return false;
}

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cpu_sample_key key = {};
	void *stacks, *counts;
	__u64 one = 1, *count;
	int kid, uid;

	key.pid = id >> 32;
	key.tid = (__u32)id;
	if (key.tid == 0 && !cpu_config.include_idle)
		return 0;
	if (!pid_selected(key.pid))
		return 0;

	if (active_buffer == 0) {
		stacks = &stacks_0;
		counts = &counts_0;
	} else {
		stacks = &stacks_1;
		counts = &counts_1;
	}

	/* -EFAULT for a kernel stack means the sample hit user mode: no kernel stack, nothing lost. */
	kid = bpf_get_stackid(ctx, stacks, 0);
	if (kid == -EEXIST)
		count_lost(LOST_KERNEL_STACK_COLLISION);
	key.kernel_stack_id = kid;

	uid = -EFAULT;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* Kernel threads have no user stack to walk. */
	if (BPF_CORE_READ(task, mm)) {
		uid = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (uid == -EEXIST)
			count_lost(LOST_USER_STACK_COLLISION);
		else if (uid < 0)
			count_lost(LOST_USER_STACK_MISSING);
	}
	key.user_stack_id = uid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));

	count = bpf_map_lookup_elem(counts, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	if (bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST) != 0) {
		/* Another CPU may have inserted the key first. */
		count = bpf_map_lookup_elem(counts, &key);
		if (count)
			__sync_fetch_and_add(count, 1);
		else
			count_lost(LOST_COUNTS_MAP_FULL);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
