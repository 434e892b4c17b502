/* The user-stack walker: .eh_frame/.debug_frame rows where user space has tabled the code (see
 * programs/unwind.h and collector/unwind/), one frame-pointer step where it has not (JIT code, Go, files not
 * tabled yet). Kernel-only; included by the programs that record user stacks. Kernel requirement: bpf_loop
 * (5.17+) and, for samples that hit kernel mode, bpf_task_pt_regs (5.15+). */
#ifndef HOTPATH_UNWIND_BPF_H
#define HOTPATH_UNWIND_BPF_H

#include "common.bpf.h"
#include "unwind.h"

/* Rows of every tabled file; user space sizes it before load (--unwind-table-memory). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* tgid -> its executable mappings; processes absent here are walked by frame pointer. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct unwind_process);
} unwind_procs SEC(".maps");

struct unwind_counts {
	__u64 n[UNWIND_COUNTERS];
};
/* Cumulative per-CPU counters of how walks ended and how frames were stepped (enum unwind_end). */
PERCPU_ARRAY_MAP(unwind_counters, struct unwind_counts, 1);
/* The stack being walked (too large for the BPF stack). */
PERCPU_ARRAY_MAP(unwind_scratch, struct user_stack, 1);

struct walk {
	struct user_stack *stack;
	struct unwind_process *proc; /* NULL: frame pointers only */
	__u32 pid;
	__u64 pc, sp, bp;
	__u64 hash;
	__u32 end;
	__u32 table_steps, fp_steps;
	bool bp_known;
};

/* The searches are global functions: the verifier checks each once, on its own, instead of once per
 * path of the walk that calls it. */

/* Index of the mapping of process `pid` that contains `pc`, or -1. */
__noinline int unwind_find_mapping(__u32 pid, __u64 pc)
{
	struct unwind_process *proc = bpf_map_lookup_elem(&unwind_procs, &pid);
	__u32 lo = 0, hi;

	if (!proc)
		return -1;
	hi = proc->count;
	if (hi > UNWIND_MAX_MAPPINGS)
		hi = UNWIND_MAX_MAPPINGS;
	/* 2^8 > UNWIND_MAX_MAPPINGS */
	for (int i = 0; i < 9 && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		if (mid >= UNWIND_MAX_MAPPINGS)
			return -1;
		if (pc < proc->mappings[mid].start)
			hi = mid;
		else if (pc >= proc->mappings[mid].end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

/* Index in unwind_rows of the last row at or below `pc` among [first, first + rows), or -1. User space caps a
 * file's rows at 2^24. */
__noinline int unwind_find_row(__u32 first, __u32 rows, __u64 pc)
{
	__u32 lo = 0, hi = rows;

	for (int i = 0; i < 25 && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2, key = first + mid;
		struct unwind_row *r = bpf_map_lookup_elem(&unwind_rows, &key);

		if (!r)
			return -1;
		if (r->pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	return (int)(first + lo - 1);
}

static long walk_step(__u32 i, void *arg)
{
	struct walk *w = arg;
	struct user_stack *st = w->stack;
	__u64 len = st->len, lookup_pc, cfa = 0, ra, bp = w->bp;
	struct unwind_mapping *m = NULL;
	struct unwind_row *row = NULL;

	if (len >= MAX_STACK_DEPTH) {
		w->end = UNWIND_END_DEPTH;
		return 1;
	}
	st->ips[len] = w->pc;
	st->len = len + 1;
	w->hash = (w->hash ^ w->pc) * 0x9E3779B97F4A7C15ULL;
	w->hash ^= w->hash >> 31;

	/* Above the leaf the pc is a return address: the call is the instruction before it. */
	lookup_pc = len == 0 ? w->pc : w->pc - 1;
	if (w->proc) {
		int mi = unwind_find_mapping(w->pid, lookup_pc);

		/* The compiler knows the callee's range and would drop the bound the verifier needs. */
		asm volatile("" : "+r"(mi));
		if (mi >= 0 && mi < UNWIND_MAX_MAPPINGS)
			m = &w->proc->mappings[mi];
	}
	if (m && m->rows) {
		int ri = unwind_find_row(m->first_row, m->rows, lookup_pc - m->bias);

		if (ri >= 0) {
			__u32 key = ri;

			row = bpf_map_lookup_elem(&unwind_rows, &key);
		}
	}

	if (row && row->cfa_rule != CFA_NONE) {
		switch (row->cfa_rule) {
		case CFA_RSP:
			cfa = w->sp + (__s64)row->cfa_offset;
			break;
		case CFA_RBP:
			if (!w->bp_known) {
				w->end = UNWIND_END_NO_FP;
				return 1;
			}
			cfa = w->bp + (__s64)row->cfa_offset;
			break;
		case CFA_PLT1:
			cfa = w->sp + 8 + ((w->pc & 15) >= 11 ? 8 : 0);
			break;
		case CFA_PLT2:
			cfa = w->sp + 8 + ((w->pc & 15) >= 10 ? 8 : 0);
			break;
		default:
			w->end = UNWIND_END_OUTERMOST;
			return 1;
		}
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
			w->end = UNWIND_END_READ;
			return 1;
		}
		if (row->rbp_rule == RBP_CFA_OFFSET) {
			if (bpf_probe_read_user(&bp, sizeof(bp), (void *)(cfa + (__s64)row->rbp_offset))) {
				w->end = UNWIND_END_READ;
				return 1;
			}
			w->bp_known = true;
		} else if (row->rbp_rule == RBP_UNSUPPORTED) {
			w->bp_known = false;
		}
		w->sp = cfa;
		w->table_steps++;
	} else {
		__u64 frame[2];

		if (!w->bp_known || w->bp == 0) {
			w->end = UNWIND_END_NO_FP;
			return 1;
		}
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)w->bp)) {
			w->end = UNWIND_END_READ;
			return 1;
		}
		bp = frame[0];
		ra = frame[1];
		w->sp = w->bp + 16;
		w->fp_steps++;
	}
	w->bp = bp;
	if (ra == 0) {
		w->end = UNWIND_END_ZERO_PC;
		return 1;
	}
	w->pc = ra;
	return 0;
}

/*
 * Walks the user stack of the current task from its user registers (`ip`, `sp`, `bp`) into the per-CPU
 * scratch stack and returns it, with its 64-bit hash in *hash (never 0); NULL when there is nothing to walk.
 * `tables`: use the process's rows; otherwise frame pointers only (--unwind fp).
 */
static __always_inline struct user_stack *unwind_user(__u32 pid, __u64 ip, __u64 sp, __u64 bp, bool tables,
						      __u64 *hash)
{
	__u32 zero = 0;
	struct user_stack *st = bpf_map_lookup_elem(&unwind_scratch, &zero);
	struct unwind_counts *counts = bpf_map_lookup_elem(&unwind_counters, &zero);
	struct walk w = {};

	if (!st || !counts)
		return NULL;
	st->len = 0;
	w.stack = st;
	w.proc = tables ? bpf_map_lookup_elem(&unwind_procs, &pid) : NULL;
	w.pid = pid;
	w.pc = ip;
	w.sp = sp;
	w.bp = bp;
	w.bp_known = true;
	w.hash = 0xcbf29ce484222325ULL;
	w.end = UNWIND_END_DEPTH;
	if (tables && !w.proc)
		counts->n[UNWIND_STEP_NO_PROCESS]++;
	bpf_loop(MAX_STACK_DEPTH, walk_step, &w, 0);
	if (w.end < UNWIND_COUNTERS)
		counts->n[w.end]++;
	counts->n[UNWIND_STEP_TABLE] += w.table_steps;
	counts->n[UNWIND_STEP_FP] += w.fp_steps;
	*hash = w.hash ? w.hash : 1;
	return st->len ? st : NULL;
}

#endif
