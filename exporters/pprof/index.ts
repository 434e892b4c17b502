// Public API of the pprof exporter: pprof encoding/decoding, window merging, folded stacks (written only:
// flamegraph/ reads them).

export type {
  ProfileData,
  ProfileFrame,
  ProfileMapping,
  ProfileSample,
  ValueTypeSpec,
} from './types.js';
export {
  buildPprof,
  buildPprofWithStats,
  encodePprofGzip,
  gzipPprof,
  encodePprofSteps,
  PprofBuilder,
  decodePprof,
  KERNEL_MAPPING_FILE,
  DEFAULT_MAX_DECODED_BYTES,
} from './encode-pprof.js';
export type { PprofBuildStats, PprofHeader, DecodePprofOptions } from './encode-pprof.js';
export { mergeProfileData, mergeProfileDataWithStats, filterByPid } from './merge.js';
export type { MergeStats } from './merge.js';
export { toFolded, foldedFrameName } from './folded.js';
export type { FoldedOptions } from './folded.js';
export { ExporterError, ExporterErrorCodes } from '../errors.js';
export type { ExporterErrorCode } from '../errors.js';
