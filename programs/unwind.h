/* Unwinding user stacks without frame pointers: the tables user space builds from .eh_frame/.debug_frame
 * and the per-process mapping lists, shared between programs/unwind.bpf.h and user space. Mirrored by
 * collector/unwind/rows.ts (rows) and collector/layouts/unwind.ts (mappings, stacks, counters). */
#ifndef HOTPATH_UNWIND_H
#define HOTPATH_UNWIND_H

#include "common.h"

/* How to find the Canonical Frame Address (the caller's rsp) at a pc. */
enum cfa_rule {
	CFA_NONE = 0, /* no information (gap between FDEs, unsupported rule): take a frame-pointer step */
	CFA_RSP = 1,  /* rsp + cfa_offset */
	CFA_RBP = 2,  /* rbp + cfa_offset */
	CFA_PLT1 = 3, /* .plt: rsp + 8 + ((rip & 15) >= 11 ? 8 : 0) */
	CFA_PLT2 = 4, /* the same with 10 */
	CFA_END = 5,  /* outermost frame (return address undefined): the stack ends here */
};

/* Where the caller's rbp is. */
enum rbp_rule {
	RBP_UNCHANGED = 0,
	RBP_CFA_OFFSET = 1, /* saved at CFA + rbp_offset */
	RBP_UNSUPPORTED = 2,
};

/* One row of a file's table, sorted by pc: the rule from `pc` up to the next row's pc. 16 bytes. */
struct unwind_row {
	__u64 pc; /* file-relative virtual address (p_vaddr space) */
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa_rule;
	__u8 rbp_rule;
};

/* Executable mappings of one process, sorted by start. 32 bytes each. */
#define UNWIND_MAX_MAPPINGS 250
struct unwind_mapping {
	__u64 start;     /* runtime address range [start, end) */
	__u64 end;
	__u64 bias;      /* runtime pc - bias = file-relative pc */
	__u32 first_row; /* the file's rows in unwind_rows: [first_row, first_row + rows) */
	__u32 rows;      /* 0: no table for this file (frame-pointer steps) */
};

struct unwind_process {
	__u32 count;
	__u32 pad;
	struct unwind_mapping mappings[UNWIND_MAX_MAPPINGS];
};

/* A user stack in our own storage (keyed by a 64-bit hash of its frames): 1024 bytes. */
struct user_stack {
	__u64 len;
	__u64 ips[MAX_STACK_DEPTH];
};

/* Why a walk ended, counted per CPU (cumulative). */
enum unwind_end {
	UNWIND_END_OUTERMOST = 0, /* reached a frame whose return address is undefined (_start, thread start) */
	UNWIND_END_ZERO_PC = 1,   /* a zero return address (the end of a frame-pointer chain) */
	UNWIND_END_NO_FP = 2,     /* a frame-pointer step with rbp unknown or zero */
	UNWIND_END_READ = 3,      /* a user-memory read failed (page not present, bad address) */
	UNWIND_END_DEPTH = 4,     /* MAX_STACK_DEPTH frames */
	UNWIND_END_NO_REGS = 5,   /* no user registers (kernel thread) */
	UNWIND_STEP_TABLE = 6,    /* frames unwound by a table row (not an end: a step count) */
	UNWIND_STEP_FP = 7,       /* frames unwound by frame pointer where a mapping had no table or no row */
	UNWIND_STEP_NO_PROCESS = 8, /* samples of processes with no tables yet (walked by frame pointer) */
	UNWIND_COUNTERS = 9,
};

#endif
