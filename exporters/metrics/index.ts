// Public API of the metrics exporter.
export {
  DEFAULT_BUCKET_LAYOUT,
  DEFAULT_SLOT_COUNT,
  Log2Recorder,
  boundariesFor,
  boundarySeconds,
  mergeHistograms,
  mergeSlots,
  slotOf,
  toExplicitHistogram,
} from './log2-histogram.js';
export type { ConversionResult, ExplicitHistogram, Log2BucketLayout, Log2Histogram } from './log2-histogram.js';
export { HotpathMetricProducer, MetricNames } from './producer.js';
export type {
  AgentInfo,
  HistogramSeries,
  HotpathMetricProducerOptions,
  KubernetesStats,
  MemoryStats,
  MetricsSource,
  ProcessStats,
  ProducerStats,
  ProgramStats,
  PushStats,
  UnwinderStats,
  WindowsDropped,
} from './producer.js';
export { createMetricsExporter } from './exporter.js';
export { createOtlpPush, otlpDropReason, parseHeadersFile } from './otlp.js';
export type { OtlpPush, OtlpPushOptions } from './otlp.js';
export type { MetricsExporter, MetricsExporterOptions } from './exporter.js';
export { ExporterError, ExporterErrorCodes } from '../errors.js';
export type { ExporterErrorCode } from '../errors.js';
