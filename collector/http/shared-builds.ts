// Requests that select the same windows get the same bytes, so they share one build: a request arriving while
// an identical build runs waits for it, and the last few answers are kept (bounded in bytes) for requests
// that come soon after. Exact, never stale: the key names the windows themselves (stored windows never change;
// a new window makes a new key). A build runs while anyone still waits for it; when the last waiter leaves
// (client gone, shutdown) it is aborted.

export interface SharedBuildsOptions<T> {
  /** Answers kept at most. */
  maxEntries: number;
  /** Bytes kept at most; an answer larger than half of it is not kept. */
  maxBytes: number;
  /** An answer's size in bytes (default: its length, for byte arrays). */
  sizeOf?: (answer: T) => number;
}

interface Inflight<T> {
  promise: Promise<T>;
  waiters: number;
  ctl: AbortController;
  settled: boolean;
}

export class SharedBuilds<T = Uint8Array> {
  private readonly kept = new Map<string, { answer: T; bytes: number }>();
  private keptBytes = 0;
  private readonly inflight = new Map<string, Inflight<T>>();
  /** Requests answered from a kept answer or from another request's build. */
  shared = 0;

  constructor(private readonly opts: SharedBuildsOptions<T>) {}

  /**
   * The answer for `key`, built by `build` unless kept or being built. `key` undefined: always build, alone.
   * Rejects with `signal`'s reason when it aborts; the build goes on for other waiters.
   */
  async get(key: string | undefined, signal: AbortSignal, build: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (key === undefined) return build(signal);
    const kept = this.kept.get(key);
    if (kept) {
      this.kept.delete(key); // most recently used last
      this.kept.set(key, kept);
      this.shared++;
      return kept.answer;
    }
    let entry = this.inflight.get(key);
    if (entry) {
      this.shared++;
    } else {
      const ctl = new AbortController();
      const created: Inflight<T> = { waiters: 0, ctl, settled: false, promise: Promise.resolve(undefined as T) };
      created.promise = build(ctl.signal)
        .then((answer) => {
          this.keep(key, answer);
          return answer;
        })
        .finally(() => {
          created.settled = true;
          this.inflight.delete(key);
        });
      created.promise.catch(() => undefined); // waiters see the failure; none may be left
      this.inflight.set(key, created);
      entry = created;
    }
    const current = entry;
    current.waiters++;
    try {
      return await untilAborted(current.promise, signal);
    } finally {
      current.waiters--;
      if (current.waiters === 0 && !current.settled) current.ctl.abort(signal.reason);
    }
  }

  private keep(key: string, answer: T): void {
    const bytes = this.opts.sizeOf ? this.opts.sizeOf(answer) : (answer as Uint8Array).length;
    if (bytes > this.opts.maxBytes / 2) return;
    this.kept.set(key, { answer, bytes });
    this.keptBytes += bytes;
    while (this.kept.size > this.opts.maxEntries || this.keptBytes > this.opts.maxBytes) {
      const [oldest, b] = this.kept.entries().next().value as [string, { bytes: number }];
      this.kept.delete(oldest);
      this.keptBytes -= b.bytes;
    }
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
