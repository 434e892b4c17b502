/* Shared between programs/runqlat.bpf.c and user space. Mirrored by collector/layouts/runqlat.ts. */
#ifndef HOTPATH_RUNQLAT_H
#define HOTPATH_RUNQLAT_H

/* The histogram lives in a one-entry per-CPU array (a u32 key, 0) whose value is a struct log2_hist
 * (log2-hist.h); user space sums the CPUs. */
#define RUNQLAT_HIST_KEY 0

#endif
