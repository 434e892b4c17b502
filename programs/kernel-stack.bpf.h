/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel stacks in our own hash maps, keyed by a 64-bit hash of their frames, in the layout of user stacks
 * (struct user_stack of programs/unwind.h: a length and the frames, leaf first). A stack-trace map
 * (bpf_get_stackid) refuses a stack whose bucket holds another one (-EEXIST): with a few hundred distinct kernel
 * stacks in a window of a few thousand buckets, some are lost every window. Its buckets are also allocated up
 * front; a BPF_F_NO_PREALLOC hash holds only what is used. Kernel-only. */
#ifndef HOTPATH_KERNEL_STACK_BPF_H
#define HOTPATH_KERNEL_STACK_BPF_H

#include "common.bpf.h"
#include "unwind.h"

/* The kernel stack being read (too large for the BPF stack; the user walk has its own scratch). */
PERCPU_ARRAY_MAP(kernel_stack_scratch, struct user_stack, 1);

/*
 * Stores the kernel stack of the program's context into `stacks` (a hash map: __u64 -> struct user_stack) and
 * returns its key, never 0. 0: no kernel stack; `*refused` then says whether there was one that the map had no
 * room for (otherwise there was none to read: a sample that interrupted user mode).
 */
static __always_inline __u64 kernel_stack_stored(void *ctx, void *stacks, bool *refused)
{
	__u32 zero = 0, i, n;
	struct user_stack *st = bpf_map_lookup_elem(&kernel_stack_scratch, &zero);
	__u64 hash = 0xcbf29ce484222325ULL;
	long bytes, err;

	*refused = false;
	if (!st)
		return 0;
	bytes = bpf_get_stack(ctx, st->ips, sizeof(st->ips), 0);
	if (bytes <= 0)
		return 0;
	n = (__u32)bytes / sizeof(__u64);
	st->len = n;
	for (i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= n)
			break;
		hash = (hash ^ st->ips[i]) * 0x9E3779B97F4A7C15ULL;
		hash ^= hash >> 31;
	}
	if (hash == 0)
		hash = 1;
	err = bpf_map_update_elem(stacks, &hash, st, BPF_NOEXIST);
	if (err != 0 && err != -EEXIST) {
		*refused = true;
		return 0;
	}
	return hash;
}

#endif
