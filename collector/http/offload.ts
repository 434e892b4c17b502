// The main thread's side of a worker thread running OffloadTasks (offload-worker.ts) one at a time, in order.
// The worker starts on first use and stops when idle (its heap is tens of MiB); a task past its time bound
// or a worker that dies (e.g. out of its heap limit) fails that task and the next one starts a new worker.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { OffloadAnswer, OffloadTask } from './offload-worker.js';

export interface OffloadWorkerOptions {
  /** A task running longer than this fails and its worker is stopped. */
  timeoutMs: number;
  /** Tasks waiting beyond this many are refused (OffloadBusyError). */
  maxQueued: number;
  /** V8 old-generation limit of the worker's heap, MiB. */
  maxHeapMb: number;
  /** The worker stops after this long without a task. */
  idleMs?: number;
}

/** The worker's queue is full: the caller answers 429. */
export class OffloadBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OffloadBusyError';
  }
}

interface Pending {
  id: number;
  task: OffloadTask;
  transfer: ArrayBuffer[];
  first: boolean;
  resolve(a: OffloadAnswer): void;
}

export class OffloadWorker {
  private worker: Worker | null = null;
  private readonly queue: Pending[] = [];
  private running: (Pending & { timer: NodeJS.Timeout }) | null = null;
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: OffloadWorkerOptions) {}

  /**
   * Runs a task; rejects with OffloadBusyError when too many wait, with an Error when the task fails. `first`:
   * ahead of the waiting tasks not so marked (a page's flamegraph before its table, which then reuses its fold).
   */
  async run(task: OffloadTask, transfer: ArrayBuffer[] = [], opts: { first?: boolean } = {}): Promise<OffloadAnswer & { ok: true }> {
    if (this.closed) throw new Error('worker closed');
    if (this.queue.length >= this.opts.maxQueued) throw new OffloadBusyError(`${this.queue.length} tasks already waiting`);
    const first = opts.first === true;
    const answer = await new Promise<OffloadAnswer>((resolve) => {
      const p = { id: this.nextId++, task, transfer, first, resolve };
      const at = first ? this.queue.findIndex((q) => !q.first) : -1;
      if (at >= 0) this.queue.splice(at, 0, p);
      else this.queue.push(p);
      this.next();
    });
    if (!answer.ok) throw new Error(answer.error);
    return answer;
  }

  /**
   * Starts the worker ahead of a task that is likely soon (the page at / asks for a flamegraph next): loading its
   * modules then overlaps the requests before. An unused worker stops when idle, as after a task.
   */
  warm(): void {
    if (this.closed || this.worker || this.running) return;
    this.worker = this.start();
    if (this.queue.length === 0) this.idleTimer ??= setTimeout(() => this.stopWorker(), this.opts.idleMs ?? 10_000).unref();
  }

  get queued(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  private next(): void {
    if (this.running || this.closed) return;
    const p = this.queue.shift();
    if (!p) {
      this.idleTimer ??= setTimeout(() => this.stopWorker(), this.opts.idleMs ?? 10_000).unref();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = (this.worker ??= this.start());
    const timer = setTimeout(() => this.fail(`took longer than ${this.opts.timeoutMs} ms`), this.opts.timeoutMs);
    this.running = { ...p, timer };
    worker.postMessage({ id: p.id, task: p.task }, p.transfer);
  }

  private start(): Worker {
    // Beside this module once built; from the TypeScript sources (tests), the built copy under dist/.
    let url = new URL('./offload-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(url))) url = new URL('../../dist/collector/http/offload-worker.js', import.meta.url);
    const worker = new Worker(url, { resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb } });
    worker.unref();
    worker.on('message', (a: OffloadAnswer) => {
      const r = this.running;
      if (!r || a.id !== r.id) return;
      clearTimeout(r.timer);
      this.running = null;
      r.resolve(a);
      this.next();
    });
    worker.on('error', (err) => {
      if (this.worker === worker) this.fail(`worker failed: ${err.message}`);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.fail('worker exited');
    });
    return worker;
  }

  /** The running task fails; its worker is stopped (a fresh one serves the next task). */
  private fail(error: string): void {
    const r = this.running;
    this.running = null;
    this.stopWorker();
    if (r) {
      clearTimeout(r.timer);
      r.resolve({ id: r.id, ok: false, error });
    }
    this.next();
  }

  private stopWorker(): void {
    const w = this.worker;
    this.worker = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    void w?.terminate();
  }

  /** Fails every task waiting or running and stops the worker. */
  close(): void {
    this.closed = true;
    const all = [...(this.running ? [this.running] : []), ...this.queue.splice(0)];
    if (this.running) clearTimeout(this.running.timer);
    this.running = null;
    this.stopWorker();
    for (const p of all) p.resolve({ id: p.id, ok: false, error: 'closed' });
  }
}
