// The contract between the two stages: collapse (pprof or folded text) → FoldedStack[] → render.

/** What kind of code a frame is; it picks the frame's colour family. */
export type FrameKind = 'kernel' | 'native' | 'jit' | 'unknown';

export interface Frame {
  name: string;
  kind: FrameKind;
}

/** One distinct stack, root first, with its summed value (samples, nanoseconds, bytes...). */
export interface FoldedStack {
  frames: Frame[];
  value: number;
}

/** Stable error codes; callers (the CLI, the HTTP server) map them to exit statuses or 4xx answers. */
export type FlamegraphErrorCode = 'FLAMEGRAPH_UNKNOWN_SAMPLE_TYPE' | 'FLAMEGRAPH_BAD_VALUE_INDEX' | 'FLAMEGRAPH_NO_SAMPLE_TYPES';

export class FlamegraphError extends Error {
  readonly code: FlamegraphErrorCode;
  constructor(code: FlamegraphErrorCode, message: string) {
    super(message);
    this.name = 'FlamegraphError';
    this.code = code;
  }
}
