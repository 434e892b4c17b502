// The agent's worker thread for request work that cannot be sliced: rendering a flamegraph page from a built
// profile (decode, fold, lay out, write), and checking a password against a bcrypt hash (tens of milliseconds
// of pure computation by design). The main thread sends the profile as raw pprof bytes, transferred rather
// than copied, and gets the page back the same way.
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { decodePprof } from '../../exporters/pprof/index.js';
import { renderDiffHtml, renderHtml, type FoldedStack } from '../../flamegraph/index.js';
import { foldForFlamegraph } from '../windows/output-formats.js';
import { diffFunctions, sandwichStacks, topFunctions } from './ui-data.js';

/** Rows of a top table at most (by self and by total: up to twice as many). */
export const TOP_ROWS = 300;

/** What a flamegraph page shows besides the plain graph: one half of a sandwich, or a diff against a base. */
export interface FlamegraphView {
  focus?: string;
  view?: 'callers' | 'callees';
  /** The base profile (raw pprof) of a differential graph. */
  baseRaw?: Uint8Array;
  /** Picture width, px (default the renderer's). */
  width?: number;
}

/**
 * `key` names the selection `raw` encodes (the same bytes for the same key): the page's graph and table
 * requests of one view send the same profile one after the other, and the second reuses the first's decoding
 * and folding (decode + fold were 1.2 s of a 17k-stack hour here, twice per page load).
 */
export type OffloadTask =
  | ({ type: 'flamegraph'; raw: Uint8Array; title: string; key?: string } & FlamegraphView)
  | { type: 'top'; raw: Uint8Array; baseRaw?: Uint8Array; key?: string }
  | { type: 'bcrypt'; password: string; hash: string };

export type OffloadAnswer =
  | { id: number; ok: true; html?: Uint8Array; match?: boolean }
  | { id: number; ok: false; error: string };

/** The last few selections' folded stacks, by key and fold option (a selection's graph and table). */
const folds = new Map<string, ReturnType<typeof foldForFlamegraph>>();
const FOLDS_KEPT = 4;

function foldCached(raw: Uint8Array, key: string | undefined, processRoot: boolean | undefined): ReturnType<typeof foldForFlamegraph> {
  const k = key === undefined ? undefined : `${processRoot ? 1 : 0} ${key}`;
  const hit = k === undefined ? undefined : folds.get(k);
  if (hit) return hit;
  const folded = foldForFlamegraph(decodePprof(raw), processRoot === undefined ? {} : { processRoot });
  if (k !== undefined) {
    folds.set(k, folded);
    while (folds.size > FOLDS_KEPT) folds.delete(folds.keys().next().value!);
  }
  return folded;
}

function flamegraphPage(task: { raw: Uint8Array; title: string; key?: string } & FlamegraphView): string {
  if (!task.focus && !task.baseRaw && !task.width) {
    const { stacks, render } = foldCached(task.raw, task.key, true);
    return renderHtml(stacks, { title: task.title, ...render });
  }
  const { stacks, render } = foldCached(task.raw, task.key, !task.baseRaw);
  let current = stacks;
  let base = task.baseRaw ? foldForFlamegraph(decodePprof(task.baseRaw), { processRoot: false }).stacks : undefined;
  let rootName: string | undefined;
  if (task.focus) {
    const view = task.view ?? 'callees';
    current = sandwichStacks(current, task.focus, view);
    if (base) base = sandwichStacks(base, task.focus, view);
    rootName = task.focus;
  }
  const inverted = task.view === 'callees';
  const opts = { title: task.title, ...render, rootName, inverted, width: task.width };
  return base ? renderDiffHtml(base, current, opts) : renderHtml(current, opts);
}

/** Stacks without their process root frames: the table lists the program's functions. */
function withoutProcessRoot(stacks: readonly FoldedStack[]): FoldedStack[] {
  return stacks.map((s) => (s.frames[0]?.processRoot ? { frames: s.frames.slice(1), value: s.value } : s));
}

function topJson(task: { raw: Uint8Array; baseRaw?: Uint8Array; key?: string }): string {
  // The graph's folding (process roots on top), shared with it when it came first.
  const folded = foldCached(task.raw, task.key, true);
  const stacks = withoutProcessRoot(folded.stacks);
  const render = folded.render;
  if (!task.baseRaw) return JSON.stringify({ unit: render.unit, ...topFunctions(stacks, TOP_ROWS) });
  const base = foldForFlamegraph(decodePprof(task.baseRaw)).stacks;
  return JSON.stringify({ unit: render.unit, diff: true, ...diffFunctions(base, stacks, TOP_ROWS) });
}

export function runOffloadTask(task: OffloadTask): { html?: Uint8Array; match?: boolean } {
  switch (task.type) {
    case 'flamegraph':
      return { html: new TextEncoder().encode(flamegraphPage(task)) };
    case 'top':
      return { html: new TextEncoder().encode(topJson(task)) };
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
