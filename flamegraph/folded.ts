import { classifyFrame } from './frame-kind.js';
import type { FoldedStack, Frame, FrameKind } from './types.js';

export interface ParseFoldedResult {
  stacks: FoldedStack[];
  /** Lines that are neither blank nor `frames count`. */
  malformedLines: number;
  /** 1-based number of the first malformed line, for an error message. */
  firstMalformedLine?: number;
}

// Suffixes used by the folded-stack tools: kernel, JIT, inlined, waker.
const SUFFIX_KIND: Record<string, FrameKind | undefined> = { k: 'kernel', j: 'jit', i: undefined, w: undefined };

function parseFrame(raw: string): Frame {
  const m = /_\[([kjiw])\]$/.exec(raw);
  if (m) {
    const name = raw.slice(0, -4);
    return { name, kind: SUFFIX_KIND[m[1]] ?? classifyFrame(name) };
  }
  return { name: raw, kind: classifyFrame(raw) };
}

/** Parses folded stacks (`root;child;leaf 12` per line, root first); see parseFoldedDetailed. */
export function parseFolded(text: string): FoldedStack[] {
  return parseFoldedDetailed(text).stacks;
}

/**
 * parseFoldedDetailed reads folded text. The count is the last space-separated field (frame names may
 * contain spaces); it may be fractional but not negative. Lines are kept in input order, not merged.
 */
export function parseFoldedDetailed(text: string): ParseFoldedResult {
  const stacks: FoldedStack[] = [];
  let malformedLines = 0;
  let firstMalformedLine: number | undefined;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end).replace(/\r$/, '').trim();
    start = end + 1;
    if (line === '') continue;
    const sp = line.lastIndexOf(' ');
    const value = sp > 0 ? Number(line.slice(sp + 1)) : NaN;
    const stack = sp > 0 ? line.slice(0, sp).trimEnd() : '';
    if (stack === '' || !Number.isFinite(value) || value < 0 || !/^[0-9.eE+]+$/.test(line.slice(sp + 1))) {
      malformedLines++;
      firstMalformedLine ??= lineNo;
      continue;
    }
    stacks.push({ frames: stack.split(';').filter((f) => f !== '').map(parseFrame), value });
  }
  return { stacks, malformedLines, firstMalformedLine };
}

/**
 * formatFolded writes stacks as folded text, marking kernel frames `_[k]` and JIT frames `_[j]` so that
 * parseFolded gives the kinds back. `;` and line breaks inside names would break the format: they become
 * `:` and a space.
 */
export function formatFolded(stacks: FoldedStack[]): string {
  const out: string[] = [];
  for (const s of stacks) {
    const frames = s.frames.map((f) => {
      const name = f.name.replace(/;/g, ':').replace(/[\r\n]/g, ' ');
      return f.kind === 'kernel' && !name.endsWith('[k]') ? `${name}_[k]` : f.kind === 'jit' ? `${name}_[j]` : name;
    });
    out.push(`${frames.join(';')} ${s.value}\n`);
  }
  return out.join('');
}
