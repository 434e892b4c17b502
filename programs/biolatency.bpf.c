// SPDX-License-Identifier: GPL-2.0
/* Block I/O latency: time from a request's issue to the driver (block_rq_issue) to its completion
 * (block_rq_complete), as cumulative log2 histograms of nanoseconds per (disk, operation).
 *
 * issue -> complete is what `hotpath_block_io_latency_seconds` promises (device time, as biolatency
 * without -Q). block_io_start/block_io_done (6.5+) bracket the accounted I/O from allocation instead,
 * queueing included, so they are not used.
 * Both hooks exist as tp_btf and raw_tp twins; user space loads one set. Completion may run in interrupt
 * context: everything taken from the request, nothing from `current`. A request whose start time or
 * histogram finds no room is counted in `lost`, on that path only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "log2-hist.bpf.h"
#include "biolatency.h"
#include "block.bpf.h"

#define START_ENTRIES 10240
#define HIST_ENTRIES 1024

const volatile struct biolatency_config bio_config = {};

HASH_MAP(start, __u64 /* struct request * */, __u64, START_ENTRIES);
PERCPU_HASH_MAP(hists, struct bio_hist_key, struct log2_hist, HIST_ENTRIES);
LOST_COUNTERS_MAP(lost, BIOLATENCY_LOST_REASONS);

static __always_inline void issue(struct request *rq)
{
	__u64 key = (__u64)rq, now = bpf_ktime_get_ns();

	if (bpf_map_update_elem(&start, &key, &now, BPF_ANY) != 0)
		count_lost(&lost, BIOLATENCY_LOST_START_MAP_FULL);
}

static __always_inline void complete(struct request *rq)
{
	__u64 key = (__u64)rq, *ts, delta;
	struct bio_hist_key hk = {};
	struct log2_hist *h;
	struct gendisk *disk;

	ts = bpf_map_lookup_elem(&start, &key);
	if (!ts)
		return;
	delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &key);

	disk = request_disk(rq);
	if (disk) {
		hk.major = BPF_CORE_READ(disk, major);
		hk.minor = BPF_CORE_READ(disk, first_minor);
	}
	hk.op = op_class(BPF_CORE_READ(rq, cmd_flags));

	h = bpf_map_lookup_elem(&hists, &hk);
	if (!h) {
		/* First I/O of this (disk, op) on this CPU. */
		struct log2_hist zero = {};

		bpf_map_update_elem(&hists, &hk, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &hk);
		if (!h) {
			count_lost(&lost, BIOLATENCY_LOST_HIST_MAP_FULL);
			return;
		}
	}
	log2_hist_add(h, delta);
}

/* block_rq_issue(rq), or (q, rq) before Linux 5.11: the `struct request_queue *` argument went in commit
 * a54895fa057c (backported to 5.10.137); user space reads the signature from BTF into
 * bio_config.issue_rq_arg. Branching on the read-only constant lets the verifier drop the access that does
 * not exist on this kernel. */
static __always_inline int on_issue(u64 *ctx, bool direct)
{
	if (bio_config.issue_rq_arg == 1)
		issue((struct request *)ctx[1]);
	else
		issue((struct request *)ctx[0]);
	return 0;
}

/* block_rq_complete(rq, error, nr_bytes). */
static __always_inline int on_complete(u64 *ctx, bool direct)
{
	complete((struct request *)ctx[0]);
	return 0;
}

TRACEPOINT_TWINS(block_rq_issue, bio_issue, on_issue)
TRACEPOINT_TWINS(block_rq_complete, bio_complete, on_complete)

char LICENSE[] SEC("license") = "GPL";
