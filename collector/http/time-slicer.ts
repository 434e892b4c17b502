// Long request work (building, encoding a profile of many windows) run a slice of time at a time on the event
// loop, so /metrics and /healthz keep answering while it runs. The work is a generator that yields between
// small steps; the slicer advances one job until its slice is used up, then lets the event loop turn (timers,
// sockets, other requests) before the next slice, taking jobs in turn. One slice per turn of the loop, whatever
// the number of jobs: how long the loop is held does not grow with the number of requests.
//
// Measured against the alternative (the same work in a worker thread): the windows live on the main thread's
// heap, and handing one 30 s history to a worker costs a structured clone of 20-130 ms on the main thread,
// as long as the slices it would save; see bench/load-test.ts for the figures with slicing.

/** Longest run of steps before the loop turns. */
export const DEFAULT_SLICE_MS = 5;

interface Job {
  steps: Iterator<unknown, unknown>;
  signal?: AbortSignal;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onAbort?: () => void;
}

export interface TimeSlicerStats {
  /** Slices run. */
  slices: number;
  /** Longest slice seen (a single step longer than the slice shows here). */
  longestSliceMs: number;
  /** Jobs finished, failed or aborted. */
  jobs: number;
}

export class TimeSlicer {
  private readonly queue: Job[] = [];
  private scheduled = false;
  private closed = false;
  readonly stats: TimeSlicerStats = { slices: 0, longestSliceMs: 0, jobs: 0 };

  constructor(readonly sliceMs = DEFAULT_SLICE_MS) {}

  /**
   * Runs `steps` to completion a slice at a time and resolves to its return value. Rejects with the signal's
   * reason when `signal` aborts (the generator is closed: its finally blocks run), and with what a step throws.
   */
  run<T>(steps: Iterator<unknown, T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(new Error('the time slicer is closed'));
      if (signal?.aborted) {
        steps.return?.();
        return reject(signal.reason);
      }
      const job: Job = { steps, signal, resolve: resolve as (v: unknown) => void, reject };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.schedule();
    });
  }

  /** Jobs waiting for a slice. */
  get pending(): number {
    return this.queue.length;
  }

  /** Rejects every job still waiting; later run() calls reject at once. */
  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.finish(job, new Error('the time slicer is closed'), true);
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // Scheduled from within a check-phase callback, an immediate runs on the next turn of the loop, after the
    // poll phase has read the sockets.
    setImmediate(() => this.slice());
  }

  private slice(): void {
    this.scheduled = false;
    const job = this.queue.shift();
    if (job) {
      const t0 = performance.now();
      const deadline = t0 + this.sliceMs;
      try {
        let r = job.steps.next();
        while (!r.done && performance.now() < deadline) r = job.steps.next();
        if (r.done) this.finish(job, r.value, false);
        else this.queue.push(job);
      } catch (err) {
        this.finish(job, err, true);
      }
      const ms = performance.now() - t0;
      this.stats.slices++;
      if (ms > this.stats.longestSliceMs) this.stats.longestSliceMs = ms;
    }
    this.schedule();
  }

  private abort(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i < 0) return; // running or done
    this.queue.splice(i, 1);
    try {
      job.steps.return?.();
    } catch {
      // a finally block that throws: the job is aborted either way
    }
    this.finish(job, job.signal?.reason, true);
  }

  private finish(job: Job, value: unknown, failed: boolean): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    this.stats.jobs++;
    if (failed) job.reject(value);
    else job.resolve(value);
  }
}
