// Bounds on what requests may hold at once: a gate for profile builds (a few run, a bounded line waits, the
// rest are refused) and the web configuration's rate limit (a token bucket). Pure bookkeeping, unit-tested.

/** The gate's line is full: answer 429. */
export class GateFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateFullError';
  }
}

interface Waiter {
  grant(release: () => void): void;
  fail(err: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  priority: boolean;
}

/**
 * At most `maxRunning` holders at once, at most `maxWaiting` in line, first come, first served; priority callers
 * (bounded elsewhere, such as live profiles that have already waited their seconds) go ahead of the others and
 * are never refused.
 */
export class Gate {
  private running = 0;
  private readonly line: Waiter[] = [];

  constructor(
    readonly maxRunning: number,
    readonly maxWaiting: number,
  ) {}

  /**
   * Resolves to a release function once the caller may run. Rejects with GateFullError when the line is full,
   * and with the signal's reason when it aborts while waiting (the caller leaves the line).
   */
  acquire(signal?: AbortSignal, priority = false): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (this.running < this.maxRunning) {
        this.running++;
        return resolve(this.releaser());
      }
      if (!priority && this.line.length >= this.maxWaiting) {
        return reject(new GateFullError(`${this.running} profiles are being built and ${this.line.length} wait`));
      }
      const w: Waiter = { grant: resolve, fail: reject, signal, priority };
      if (signal) {
        w.onAbort = () => {
          const i = this.line.indexOf(w);
          if (i >= 0) this.line.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (priority) {
        const firstOrdinary = this.line.findIndex((x) => !x.priority);
        this.line.splice(firstOrdinary < 0 ? this.line.length : firstOrdinary, 0, w);
      } else {
        this.line.push(w);
      }
    });
  }

  get inUse(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.line.length };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.line.shift();
      if (!next) {
        this.running--;
        return;
      }
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.grant(this.releaser()); // the slot passes to the next in line
    };
  }
}

/** A token bucket as Go's rate.NewLimiter(rate.Every(interval), burst): full at the start. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes a token if there is one. */
  allow(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) / this.intervalMs);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
