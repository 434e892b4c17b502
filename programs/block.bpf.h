/* Kernel-only helpers for the block-layer programs (biolatency, io): a request's disk and operation class. */
#ifndef HOTPATH_BLOCK_BPF_H
#define HOTPATH_BLOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include "biolatency.h"

#define REQ_OP_MASK_BITS 0xff /* REQ_OP_BITS = 8 */

/* request::rq_disk was replaced by request::q->disk in 5.17 (commit f3fa33acca9f, "block: remove the
 * ->rq_disk field in struct request"). */
struct request___pre517 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *request_disk(struct request *rq)
{
	if (bpf_core_field_exists(((struct request___pre517 *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___pre517 *)rq, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

/* enum bio_op of `rq->cmd_flags & REQ_OP_MASK`. */
static __always_inline __u32 op_class(__u32 cmd_flags)
{
	switch (cmd_flags & REQ_OP_MASK_BITS) {
	case 0: return BIO_OP_READ;
	case 1: return BIO_OP_WRITE;
	case 2: return BIO_OP_FLUSH;
	case 3: return BIO_OP_DISCARD;
	default: return BIO_OP_OTHER;
	}
}

#endif
