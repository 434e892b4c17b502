// The agent's worker thread for request work that cannot be sliced: rendering a flamegraph page or a top table
// from a selection folded to ids on the main thread (windows/fold-stored.ts: frames named once, typed arrays,
// no pprof in between), and checking a password against a bcrypt hash (tens of milliseconds of pure
// computation by design). The page comes back as bytes, transferred rather than copied.
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { renderDiffHtml, renderHtml, type FoldedStack } from '../../flamegraph/index.js';
import { foldedStacksOf, type StoredFold } from '../windows/fold-stored.js';
import { diffFunctions, sandwichStacks, topFunctions } from './ui-data.js';

/** Rows of a top table at most (by self and by total: up to twice as many). */
export const TOP_ROWS = 300;

/** What a flamegraph page shows besides the plain graph: one half of a sandwich, or a diff against a base. */
export interface FlamegraphView {
  focus?: string;
  view?: 'callers' | 'callees';
  /** The base selection of a differential graph. */
  baseFold?: StoredFold;
  /** Picture width, px (default the renderer's). */
  width?: number;
  /** Root at the top (default: for callees only). */
  inverted?: boolean;
}

/**
 * `key` names the selection `fold` holds (the same fold for the same key): the page's graph and table requests
 * of one view send the same selection one after the other, and the second reuses the first's folded stacks.
 */
export type OffloadTask =
  | ({ type: 'flamegraph'; fold: StoredFold; title: string; key?: string } & FlamegraphView)
  | { type: 'top'; fold: StoredFold; baseFold?: StoredFold; key?: string }
  /** Folds a selection ahead of its page's requests (kept by key as theirs would be); answers nothing. */
  | { type: 'prepare'; fold: StoredFold; key: string }
  | { type: 'bcrypt'; password: string; hash: string };

export type OffloadAnswer =
  | { id: number; ok: true; html?: Uint8Array; match?: boolean }
  | { id: number; ok: false; error: string };

/** The last few selections' folded stacks, by key and fold option (a selection's graph and table). */
const folds = new Map<string, FoldedStack[]>();
const FOLDS_KEPT = 4;

function foldCached(fold: StoredFold, key: string | undefined, processRoot: boolean): FoldedStack[] {
  const k = key === undefined ? undefined : `${processRoot ? 1 : 0} ${key}`;
  const hit = k === undefined ? undefined : folds.get(k);
  if (hit) return hit;
  const stacks = foldedStacksOf(fold, { processRoot });
  if (k !== undefined) {
    folds.set(k, stacks);
    while (folds.size > FOLDS_KEPT) folds.delete(folds.keys().next().value!);
  }
  return stacks;
}

function renderOptionsOf(fold: StoredFold): { unit: string; sampleType: string } {
  return { unit: fold.sampleType.unit, sampleType: fold.sampleType.type };
}

function flamegraphPage(task: { fold: StoredFold; title: string; key?: string } & FlamegraphView): string {
  const render = renderOptionsOf(task.fold);
  if (!task.focus && !task.baseFold && !task.width && task.inverted === undefined) {
    return renderHtml(foldCached(task.fold, task.key, true), { title: task.title, ...render });
  }
  let current = foldCached(task.fold, task.key, !task.baseFold);
  let base = task.baseFold ? foldedStacksOf(task.baseFold, { processRoot: false }) : undefined;
  let rootName: string | undefined;
  if (task.focus) {
    const view = task.view ?? 'callees';
    current = sandwichStacks(current, task.focus, view);
    if (base) base = sandwichStacks(base, task.focus, view);
    rootName = task.focus;
  }
  const inverted = task.inverted ?? task.view === 'callees';
  const opts = { title: task.title, ...render, rootName, inverted, width: task.width };
  return base ? renderDiffHtml(base, current, opts) : renderHtml(current, opts);
}

/** Stacks without their process root frames: the table lists the program's functions. */
function withoutProcessRoot(stacks: readonly FoldedStack[]): FoldedStack[] {
  return stacks.map((s) => (s.frames[0]?.processRoot ? { frames: s.frames.slice(1), value: s.value } : s));
}

function topJson(task: { fold: StoredFold; baseFold?: StoredFold; key?: string }): string {
  // The graph's folding (process roots on top), shared with it when it came first.
  const stacks = withoutProcessRoot(foldCached(task.fold, task.key, true));
  const { unit } = renderOptionsOf(task.fold);
  if (!task.baseFold) return JSON.stringify({ unit, ...topFunctions(stacks, TOP_ROWS) });
  const base = foldedStacksOf(task.baseFold, { processRoot: false });
  return JSON.stringify({ unit, diff: true, ...diffFunctions(base, stacks, TOP_ROWS) });
}

export function runOffloadTask(task: OffloadTask): { html?: Uint8Array; match?: boolean } {
  switch (task.type) {
    case 'flamegraph':
      return { html: new TextEncoder().encode(flamegraphPage(task)) };
    case 'top':
      return { html: new TextEncoder().encode(topJson(task)) };
    case 'prepare':
      foldCached(task.fold, task.key, true);
      return {};
    case 'bcrypt':
      return { match: bcrypt.compareSync(task.password, task.hash) };
  }
}

parentPort?.on('message', (msg: { id: number; task: OffloadTask }) => {
  let answer: OffloadAnswer;
  try {
    answer = { id: msg.id, ok: true, ...runOffloadTask(msg.task) };
  } catch (err) {
    answer = { id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort?.postMessage(answer, answer.ok && answer.html ? [answer.html.buffer as ArrayBuffer] : []);
});
