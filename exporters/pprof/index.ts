// Public API of the pprof exporter: pprof encoding/decoding, window merging, folded stacks.

export type {
  FrameKind,
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
  decodePprof,
  PprofDecodeError,
  KERNEL_MAPPING_FILE,
  DEFAULT_MAX_DECODED_BYTES,
} from './encode-pprof.js';
export type { PprofBuildStats, DecodePprofOptions } from './encode-pprof.js';
export { mergeProfileData, mergeProfileDataWithStats, filterByPid } from './merge.js';
export type { MergeStats } from './merge.js';
export { toFolded, parseFolded, foldedFrameName, MAX_FOLDED_ERRORS } from './folded.js';
export type { FoldedOptions, FoldedStack, FoldedLineError, ParsedFolded } from './folded.js';
