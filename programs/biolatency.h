/* Shared between programs/biolatency.bpf.c and user space. Mirrored by collector/layouts/biolatency.ts. */
#ifndef HOTPATH_BIOLATENCY_H
#define HOTPATH_BIOLATENCY_H

/* Operation classes from `rq->cmd_flags & REQ_OP_MASK`. */
enum bio_op {
	BIO_OP_READ = 0,
	BIO_OP_WRITE = 1,
	BIO_OP_FLUSH = 2,
	BIO_OP_DISCARD = 3,
	BIO_OP_OTHER = 4,
};

/* Key of the per-CPU histogram hash (value: struct log2_hist of log2-hist.h): 12 bytes. major/minor 0: no disk. */
struct bio_hist_key {
	__u32 major;
	__u32 minor;
	__u32 op; /* enum bio_op */
};

/* Requests not measured. Indexes the `lost` per-CPU array. */
enum biolatency_lost_reason {
	BIOLATENCY_LOST_START_MAP_FULL = 0, /* more requests in flight than the start-time hash holds */
	BIOLATENCY_LOST_HIST_MAP_FULL = 1,  /* more (disk, operation) pairs than the histogram hash holds */
	BIOLATENCY_LOST_REASONS = 2,
};

/* Read-only settings, written into .rodata before load. */
struct biolatency_config {
	/* Index of `struct request *` in block_rq_issue's arguments: 1 before Linux 5.11 (commit a54895fa,
	 * "block: remove the request_queue to argument request based tracepoints"; backported to 5.10.137),
	 * 0 after. User space reads it from the kernel's BTF (btf_trace_block_rq_issue). */
	__u32 issue_rq_arg;
};

#endif
