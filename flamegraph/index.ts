// hotpath flamegraph: a standalone two-stage renderer; depends only on node builtins and pprof-format.
//
// Contract between the stages: FoldedStack[] = { frames: { name, kind }[] root first, value }[].
//   1. Collapse: collapsePprof(profile) for any decoded pprof Profile (ours or Go's), parseFolded(text) for
//      `root;child;leaf 12` text (the one reader of the format; formatFolded writes it back). Bad data is
//      counted (…Detailed variants), never thrown; a caller's bad option (unknown sample type) throws a
//      FlamegraphError with a stable code (errors.ts).
//   2. Render: renderSvg / renderHtml / renderDiff / renderDiffHtml merge the stacks into a tree (children by
//      name) and write a self-contained interactive page. Output is byte-identical for identical input.
export type { FoldedStack, Frame, FrameKind } from './types.js';
export { FlamegraphError, FlamegraphErrorCodes, type FlamegraphErrorCode } from './errors.js';
export {
  collapsePprof, collapsePprofDetailed, selectSampleType,
  type CollapseOptions, type CollapseResult, type SampleTypeInfo,
} from './collapse-pprof.js';
export { parseFolded, parseFoldedDetailed, formatFolded, type ParseFoldedResult } from './folded.js';
export { classifyFrame } from './frame-kind.js';
export { buildTree, type FlameNode, type FlameTree, type BuildTreeOptions } from './tree.js';
export { renderSvg, renderHtml, renderDiff, renderDiffHtml, type RenderOptions } from './render.js';
export { escapeMarkup } from './escape-markup.js';
export { formatValue, formatPercent } from './units.js';
export { frameColor, diffColor } from './colors.js';
