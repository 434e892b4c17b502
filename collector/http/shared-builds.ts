// Requests that select the same windows get the same bytes, so they share one build: a request arriving while
// an identical build runs waits for it, and the last few answers are kept (bounded in bytes) for requests
// that come soon after. Exact, never stale: the key names the windows themselves (stored windows never change;
// a new window makes a new key). A build runs while anyone still waits for it; when the last waiter leaves
// (client gone, shutdown) it is aborted.

export interface SharedBuildsOptions {
  /** Answers kept at most. */
  maxEntries: number;
  /** Bytes kept at most; an answer larger than half of it is not kept. */
  maxBytes: number;
}

interface Inflight {
  promise: Promise<Uint8Array>;
  waiters: number;
  ctl: AbortController;
  settled: boolean;
}

export class SharedBuilds {
  private readonly kept = new Map<string, Uint8Array>();
  private keptBytes = 0;
  private readonly inflight = new Map<string, Inflight>();
  /** Requests answered from a kept answer or from another request's build. */
  shared = 0;

  constructor(private readonly opts: SharedBuildsOptions) {}

  /**
   * The answer for `key`, built by `build` unless kept or being built. `key` undefined: always build, alone.
   * Rejects with `signal`'s reason when it aborts; the build goes on for other waiters.
   */
  async get(key: string | undefined, signal: AbortSignal, build: (signal: AbortSignal) => Promise<Uint8Array>): Promise<Uint8Array> {
    if (key === undefined) return build(signal);
    const kept = this.kept.get(key);
    if (kept) {
      this.kept.delete(key); // most recently used last
      this.kept.set(key, kept);
      this.shared++;
      return kept;
    }
    let entry = this.inflight.get(key);
    if (entry) {
      this.shared++;
    } else {
      const ctl = new AbortController();
      const created: Inflight = { waiters: 0, ctl, settled: false, promise: Promise.resolve(new Uint8Array()) };
      created.promise = build(ctl.signal)
        .then((bytes) => {
          this.keep(key, bytes);
          return bytes;
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

  private keep(key: string, bytes: Uint8Array): void {
    if (bytes.length > this.opts.maxBytes / 2) return;
    this.kept.set(key, bytes);
    this.keptBytes += bytes.length;
    while (this.kept.size > this.opts.maxEntries || this.keptBytes > this.opts.maxBytes) {
      const [oldest, b] = this.kept.entries().next().value as [string, Uint8Array];
      this.kept.delete(oldest);
      this.keptBytes -= b.length;
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
