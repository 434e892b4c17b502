/* Kernel side of the log2 histograms of log2-hist.h. The slot function is mirrored by slotOf() in
 * exporters/metrics/log2-histogram.ts. */
#ifndef HOTPATH_LOG2_HIST_BPF_H
#define HOTPATH_LOG2_HIST_BPF_H

#include "log2-hist.h"

/* Bit length of x (0 for 0). BPF has no count-leading-zeros instruction, so binary search. */
static __always_inline __u32 bit_length(__u64 x)
{
	__u32 r = 0;

	if (x >> 32) { x >>= 32; r += 32; }
	if (x >> 16) { x >>= 16; r += 16; }
	if (x >> 8) { x >>= 8; r += 8; }
	if (x >> 4) { x >>= 4; r += 4; }
	if (x >> 2) { x >>= 2; r += 2; }
	if (x >> 1) { x >>= 1; r += 1; }
	return r + (__u32)x;
}

/* slot(v) = 0 for v <= 1, else 64 - clz(v - 1), capped at the overflow slot. */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 s = v <= 1 ? 0 : bit_length(v - 1);

	return s < LOG2_HIST_SLOTS - 1 ? s : LOG2_HIST_SLOTS - 1;
}

/* Histogram values are per-CPU: plain (non-atomic) adds are safe. */
static __always_inline void log2_hist_add(struct log2_hist *h, __u64 v)
{
	__u32 s = log2_slot(v);

	if (s < LOG2_HIST_SLOTS)
		h->slots[s] += 1;
	h->sum_ns += v;
}

#endif
