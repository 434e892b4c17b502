/* Shared between programs/runqlat.bpf.c and collector/latency/ (which mirrors it). */
#ifndef HOTPATH_RUNQLAT_H
#define HOTPATH_RUNQLAT_H

/* The histogram lives in a one-entry per-CPU array (key 0) whose value is a struct log2_hist
 * (programs/log2-hist.bpf.h); user space sums the CPUs. */
#define RUNQLAT_HIST_KEY 0

#endif
