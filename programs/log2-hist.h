/* Log2 latency histograms of runqlat and biolatency: the map value, shared with user space. Mirrored by
 * collector/layouts/log2-hist.ts; the slot function is log2_slot() in log2-hist.bpf.h.
 *
 * Slots are upper-inclusive powers of two of nanoseconds, as Prometheus `le` buckets are:
 * slot 0 counts v <= 1, slot k counts 2^(k-1) < v <= 2^k, and the last slot also takes everything above
 * 2^(LOG2_HIST_SLOTS-2) (the overflow, `+Inf`). Counts are cumulative: nothing ever resets them. */
#ifndef HOTPATH_LOG2_HIST_H
#define HOTPATH_LOG2_HIST_H

#define LOG2_HIST_SLOTS 40

/* 328 bytes: one map value holds the whole histogram, so an event costs one map lookup. */
struct log2_hist {
	__u64 slots[LOG2_HIST_SLOTS];
	__u64 sum_ns;
};

#endif
