// The contract between the two stages: collapse (pprof or folded text) → FoldedStack[] → render.

/**
 * What kind of code a frame is; it picks the frame's colour family. The one definition in hotpath:
 * classifyFrame (frame-kind.ts) decides it for any profile, and exporters/ carries the collector's choice
 * as a plain string (ProfileFrame.kind).
 */
export type FrameKind = 'kernel' | 'native' | 'jit' | 'unknown';

export interface Frame {
  name: string;
  kind: FrameKind;
  /** The `comm-pid` frame collapsePprof puts at the root with `processRoot` (not a function of the program). */
  processRoot?: true;
}

/** One distinct stack, root first, with its summed value (samples, nanoseconds, bytes...). */
export interface FoldedStack {
  frames: Frame[];
  value: number;
}
