// Folded stacks, the text format of flamegraph tools: one line per stack, `root;child;leaf count`.
// This is the writer for ProfileData; the one reader of the format is flamegraph/folded.ts (parseFolded),
// which exporters/ may not import: folded.test.ts reads toFolded's output back with it to keep them agreed.

import type { ProfileData, ProfileFrame } from './types.js';

export interface FoldedOptions {
  /** Which entry of the sample values to count (default 0, e.g. samples/count for CPU profiles). */
  valueIndex?: number;
  /**
   * Root frame naming the process, as `perf script | stackcollapse-perf` and bpftrace users expect:
   * 'comm' (default), 'comm-pid', or 'none'.
   */
  processFrame?: 'comm' | 'comm-pid' | 'none';
  /** Append `_[k]` to kernel and `_[j]` to JIT frames (stackcollapse-perf `--all` style). Default false. */
  annotateKind?: boolean;
}

/** Frame names may not contain the separator or break the line; the count follows the last space. */
function sanitize(name: string): string {
  const clean = name.replace(/;/g, ':').replace(/[\u0000-\u001f]/g, ' ');
  return clean === '' ? '[unknown]' : clean;
}

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Name of one frame: its function, else `[file+0xaddr]` under a file mapping, else the bare address. */
export function foldedFrameName(f: ProfileFrame, annotateKind = false): string {
  let name: string;
  if (f.functionName !== undefined && f.functionName !== '') name = sanitize(f.functionName);
  else if (f.mapping && !f.mapping.file.startsWith('[') && f.mapping.file !== '') {
    name = `[${sanitize(basename(f.mapping.file))}+0x${f.address.toString(16)}]`;
  } else name = `0x${f.address.toString(16)}`;
  if (annotateKind) {
    if (f.kind === 'kernel') name += '_[k]';
    else if (f.kind === 'jit') name += '_[j]';
  }
  return name;
}

/**
 * toFolded renders ProfileData as folded stacks, root first, identical stacks summed, lines sorted so the
 * output is deterministic. Samples whose chosen value is 0 or missing are left out. Ends with a newline
 * unless empty.
 */
export function toFolded(data: ProfileData, opts: FoldedOptions = {}): string {
  const valueIndex = opts.valueIndex ?? 0;
  const processFrame = opts.processFrame ?? 'comm';
  const annotate = opts.annotateKind ?? false;
  const names = new Map<ProfileFrame, string>();
  const counts = new Map<string, number>();
  for (const s of data.samples) {
    const v = s.values[valueIndex];
    if (v === undefined || !Number.isFinite(v) || v === 0) continue;
    const parts: string[] = [];
    if (processFrame !== 'none') {
      const comm = sanitize(s.strLabels?.comm ?? '[unknown]');
      const pid = s.numLabels?.pid;
      parts.push(processFrame === 'comm-pid' && pid !== undefined ? `${comm}-${pid}` : comm);
    }
    for (let i = s.frames.length - 1; i >= 0; i--) {
      const f = s.frames[i];
      let n = names.get(f);
      if (n === undefined) {
        n = foldedFrameName(f, annotate);
        names.set(f, n);
      }
      parts.push(n);
    }
    if (parts.length === 0) continue;
    const key = parts.join(';');
    counts.set(key, (counts.get(key) ?? 0) + v);
  }
  const keys = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '';
  for (const k of keys) out += `${k} ${Math.round(counts.get(k) as number)}\n`;
  return out;
}
