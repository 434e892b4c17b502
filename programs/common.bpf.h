/* Kernel-only helpers shared by hotpath's programs: map definitions, lost counters, the pid filter and the
 * first insert of an aggregation value. Everything is inlined: the helpers cost what the code they replace did. */
#ifndef HOTPATH_COMMON_BPF_H
#define HOTPATH_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* vmlinux.h carries types, not the errno macros. */
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EEXIST
#define EEXIST 17
#endif

/* ---- map definitions ---- */

#define BPF_MAP(name, map_type, key_type, value_type, entries, flags)                \
	struct {                                                                       \
		__uint(type, map_type);                                                  \
		__uint(max_entries, entries);                                            \
		__uint(map_flags, flags);                                                \
		__type(key, key_type);                                                   \
		__type(value, value_type);                                               \
	} name SEC(".maps")

#define HASH_MAP(name, key_type, value_type, entries) \
	BPF_MAP(name, BPF_MAP_TYPE_HASH, key_type, value_type, entries, 0)
#define PERCPU_HASH_MAP(name, key_type, value_type, entries) \
	BPF_MAP(name, BPF_MAP_TYPE_PERCPU_HASH, key_type, value_type, entries, 0)
#define PERCPU_ARRAY_MAP(name, value_type, entries) \
	BPF_MAP(name, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, value_type, entries, 0)
/* Per-task values that live and die with the task: cheaper than a hash keyed by tid (5.11+). */
#define TASK_STORAGE_MAP(name, value_type) \
	BPF_MAP(name, BPF_MAP_TYPE_TASK_STORAGE, int, value_type, 0, BPF_F_NO_PREALLOC)

/* Stack ids -> `depth` u64 addresses, leaf first, the unused tail zeroed (a deeper stack keeps its `depth`
 * innermost frames). Sized, not typed: the kernel takes no BTF key/value types for stack trace maps. The map
 * is allocated whole at load: entries x depth x 8 bytes and more. */
#define STACK_TRACE_MAP_DEPTH(name, entries, depth)                                   \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                  \
		__uint(key_size, sizeof(__u32));                                         \
		__uint(value_size, (depth) * sizeof(__u64));                             \
		__uint(max_entries, entries);                                            \
	} name SEC(".maps")
#define STACK_TRACE_MAP(name, entries) STACK_TRACE_MAP_DEPTH(name, entries, MAX_STACK_DEPTH)

/* ---- lost counters ---- */

/* Events (or parts of them) dropped, per CPU, indexed by the program's lost-reason enum (`reasons` of them).
 * Cumulative: user space reads per-window deltas (collector/bpf/lost-counters.ts). */
#define LOST_COUNTERS_MAP(name, reasons) PERCPU_ARRAY_MAP(name, __u64, reasons)

/* The counter is per-CPU: a plain add is safe. */
static __always_inline void count_lost(void *counters, __u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(counters, &reason);

	if (n)
		*n += 1;
}

/* ---- pid filter ---- */

/* Whether a program keeps process `pid` (a tgid). The filter is read-only (.rodata), so the verifier knows
 * its count and bounds the loop by it. */
static __always_inline bool pid_selected(const volatile struct pid_filter *filter, __u32 pid)
{
	if (filter->count == 0)
		return true;
	for (int i = 0; i < MAX_FILTER_PIDS; i++) {
		if (i >= filter->count)
			break;
		if (filter->pids[i] == pid)
			return true;
	}
	return false;
}

/* ---- aggregation ---- */

/* A key's first event in an aggregation hash whose values every CPU shares and adds to atomically. The caller
 * looked the key up and missed (the path of every other event: one map operation); this inserts `first`, the
 * value that event makes. Another CPU may have inserted the key meanwhile: the insert then fails and the value
 * found is returned for the caller to add the event to. NULL when nothing is left to add: `first` went in, or
 * the map is full and `full_reason` was counted in `lost`. */
static __always_inline void *insert_first(void *map, const void *key, const void *first, void *lost,
					  __u32 full_reason)
{
	void *v;

	if (bpf_map_update_elem(map, key, first, BPF_NOEXIST) == 0)
		return NULL;
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_lost(lost, full_reason);
	return v;
}

/* ---- tp_btf / raw_tp twins ---- */

/* A tracepoint handler as twin programs: `<base>_btf` (tp_btf) and `<base>_raw` (raw_tp), the names
 * collector/bpf/load-twins.ts loads one set of. `handler(ctx, direct)` is a static __always_inline int
 * function; ctx[i] is the tracepoint's i-th argument (what BPF_PROG expands to). `direct` is true for tp_btf,
 * whose BTF-typed arguments may be dereferenced (plain loads), false for raw_tp, which must probe-read. */
#define TRACEPOINT_TWINS(tracepoint, base, handler)                                   \
	SEC("tp_btf/" #tracepoint)                                                     \
	int base##_btf(u64 *ctx)                                                       \
	{                                                                              \
		return handler(ctx, true);                                               \
	}                                                                              \
	SEC("raw_tp/" #tracepoint)                                                     \
	int base##_raw(u64 *ctx)                                                       \
	{                                                                              \
		return handler(ctx, false);                                              \
	}

/* A task_struct field: a plain load when `direct`, else a CO-RE probe read. `direct` is a constant at every
 * inlined use, so only one branch is emitted. */
#define TASK_FIELD(direct, task, field) ((direct) ? (task)->field : BPF_CORE_READ(task, field))

#endif
