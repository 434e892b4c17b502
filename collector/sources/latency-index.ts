// Public API of the latency collectors (run-queue latency, block I/O latency, off-CPU time).
export { RunqlatCollector, type RunqlatOptions } from './runqlat.js';
export { BiolatencyCollector, blockDeviceName, issueRequestArgFromBtf, type BioHistogram, type BiolatencyOptions } from './biolatency.js';
export { OffcpuCollector, type OffcpuOptions, type OffcpuSample, type OffcpuWindow } from './offcpu.js';
export type { AttachVariant } from '../bpf/load-twins.js';
export {
  LOG2_HIST_SLOTS,
  log2Slot,
  slotUpperBoundNs,
  histogramCount,
  histogramDelta,
  medianSlot,
  emptyHistogram,
  type Log2Histogram,
} from '../layouts/log2-hist.js';
export { BIO_OPERATIONS, parseUeventDevname, type BioOperation } from '../layouts/biolatency.js';
export { OFFCPU_LOST_REASONS, type OffcpuLostReason } from '../layouts/offcpu.js';
export { tracepointArity, type TracepointArityResult } from '../bpf/btf.js';
