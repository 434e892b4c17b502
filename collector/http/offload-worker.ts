// The agent's worker thread for request work that cannot be sliced: rendering a flamegraph page from a built
// profile (decode, fold, lay out, write), and checking a password against a bcrypt hash (tens of milliseconds
// of pure computation by design). The main thread sends the profile as raw pprof bytes, transferred rather
// than copied, and gets the page back the same way.
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { decodePprof } from '../../exporters/pprof/index.js';
import { renderFlamegraph } from '../windows/output-formats.js';

export type OffloadTask =
  | { type: 'flamegraph'; raw: Uint8Array; title: string }
  | { type: 'bcrypt'; password: string; hash: string };

export type OffloadAnswer =
  | { id: number; ok: true; html?: Uint8Array; match?: boolean }
  | { id: number; ok: false; error: string };

export function runOffloadTask(task: OffloadTask): { html?: Uint8Array; match?: boolean } {
  switch (task.type) {
    case 'flamegraph': {
      const page = renderFlamegraph(decodePprof(task.raw), '.html', task.title);
      return { html: new TextEncoder().encode(page) };
    }
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
