// Public API of the push exporters: Grafana Pyroscope's push API (Connect), its request encoding and the
// bounded retrying queue under it.
export { ProtobufWriter } from './protobuf-writer.js';
export { encodePushRequest, PYROSCOPE_PUSH_PATH } from './pyroscope-request.js';
export type { PushSample, PushSeries } from './pyroscope-request.js';
export { splitSeries, seriesLabelsOf, DEFAULT_MAX_SERIES, OTHER_SERVICE, PYROSCOPE_PROFILE_NAMES } from './pyroscope-series.js';
export type { ProfileSeries, SeriesSplitOptions } from './pyroscope-series.js';
export { PushQueue } from './push-queue.js';
export type { PushDropReason, PushQueueOptions, PushQueueStats, QueuedBody, SendResult } from './push-queue.js';
export { PyroscopePusher, DEFAULT_PUSH_QUEUE_BYTES, classifyStatus, connectErrorMessage, pushEndpoint } from './pyroscope.js';
export type { PushTargetStats, PyroscopeOptions } from './pyroscope.js';
