// A bounded in-memory queue of request bodies sent one at a time, in order, with retries. Offering never
// waits: the agent's drain hands a window over and goes on. When the queue is over its bytes or items bound
// the OLDEST queued bodies are dropped (counted): for a continuous profiler the newest windows are the ones
// worth having, and a receiver back after an outage gets the most recent history the bound allows.
//
// A failed send is retried while it can succeed later (network errors, timeouts, 5xx, 429) after a backoff
// that doubles per consecutive failure up to a cap, with jitter (a random 50-100% of it) so agents that lost
// the same receiver do not come back in step. A body the receiver refuses (other 4xx) is dropped at once.

/** How one attempt ended, as the transport classifies it. */
export interface SendResult {
  /** The attempt's outcome, a label of hotpath_push_requests_total (success, rejected, server_error, ...). */
  outcome: string;
  /** success: delivered; retry: keep it and try again later; drop: the receiver refused it. */
  action: 'success' | 'retry' | 'drop';
  /** What the receiver or the network said, for the log. */
  message?: string;
}

export interface QueuedBody {
  body: Uint8Array;
  /** What the body holds, for the log (e.g. "cpu window of 12:00:10"). */
  description: string;
  attempts: number;
}

/** Why a body was dropped: queue_full (oldest dropped for a newer one), too_large, rejected, shutdown. */
export type PushDropReason = 'queue_full' | 'too_large' | 'rejected' | 'shutdown';

export interface PushQueueOptions {
  /** Bound of the bodies held, in bytes, counting the one being sent. */
  maxBytes: number;
  /** Bound of the bodies held, in number. */
  maxItems: number;
  send(item: QueuedBody, signal: AbortSignal): Promise<SendResult>;
  /** Backoff after the first failure, doubled per consecutive failure up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** [0, 1); Math.random by default (tests pass a seeded one). */
  random?: () => number;
  /** Names the target in log lines ("push to pyroscope http://...: ..."). */
  name: string;
  log?: (line: string) => void;
}

export interface PushQueueStats {
  /** Attempts by outcome. */
  requests: Record<string, number>;
  /** Bodies dropped by reason. */
  dropped: Record<PushDropReason, number>;
  queueBytes: number;
  queueItems: number;
  /** The most bytes held at once since start. */
  peakQueueBytes: number;
  /** Bytes of the bodies delivered. */
  sentBytes: number;
}

export class PushQueue {
  private readonly items: QueuedBody[] = [];
  private bytes = 0;
  private sending: QueuedBody | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private droppedWhileFailing = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly log: (line: string) => void;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  readonly counters: PushQueueStats = {
    requests: {},
    dropped: { queue_full: 0, too_large: 0, rejected: 0, shutdown: 0 },
    queueBytes: 0,
    queueItems: 0,
    peakQueueBytes: 0,
    sentBytes: 0,
  };

  constructor(private readonly opts: PushQueueOptions) {
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(this.minBackoffMs, opts.maxBackoffMs ?? 30_000);
    this.random = opts.random ?? Math.random;
  }

  /** Queues a body and returns at once (false when it was dropped instead). */
  offer(body: Uint8Array, description: string): boolean {
    if (this.closed) {
      this.drop('shutdown');
      return false;
    }
    if (body.length > this.opts.maxBytes) {
      this.drop('too_large');
      this.log(`push to ${this.opts.name}: ${description} dropped: ${body.length} bytes, more than the queue holds (${this.opts.maxBytes})`);
      return false;
    }
    this.items.push({ body, description, attempts: 0 });
    this.bytes += body.length;
    // Oldest first, never the body being sent (it is not in `items`).
    while (this.items.length > 0 && (this.held.bytes > this.opts.maxBytes || this.held.items > this.opts.maxItems)) {
      const old = this.items.shift()!;
      this.bytes -= old.body.length;
      this.drop('queue_full');
    }
    this.counters.peakQueueBytes = Math.max(this.counters.peakQueueBytes, this.held.bytes);
    this.pump();
    return true;
  }

  /** Bodies and bytes held, counting the one being sent. */
  private get held(): { bytes: number; items: number } {
    const s = this.sending;
    return { bytes: this.bytes + (s ? s.body.length : 0), items: this.items.length + (s ? 1 : 0) };
  }

  stats(): PushQueueStats {
    const { bytes, items } = this.held;
    return {
      ...this.counters,
      requests: { ...this.counters.requests },
      dropped: { ...this.counters.dropped },
      queueBytes: bytes,
      queueItems: items,
    };
  }

  private drop(reason: PushDropReason, n = 1): void {
    this.counters.dropped[reason] += n;
    if (this.failures > 0) this.droppedWhileFailing += n;
  }

  private pump(): void {
    if (this.closed || this.sending || this.retryTimer || this.items.length === 0) {
      if (!this.sending && this.items.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const item = this.items.shift()!;
    this.bytes -= item.body.length;
    this.sending = item;
    void this.attempt(item);
  }

  private async attempt(item: QueuedBody): Promise<void> {
    let result: SendResult;
    try {
      item.attempts++;
      result = await this.opts.send(item, this.abort.signal);
    } catch (err) {
      result = { outcome: 'network_error', action: 'retry', message: err instanceof Error ? err.message : String(err) };
    }
    this.sending = null;
    if (this.closed) {
      this.drop('shutdown');
      return;
    }
    this.counters.requests[result.outcome] = (this.counters.requests[result.outcome] ?? 0) + 1;
    if (result.action === 'retry') {
      // Back at the head, unless newer bodies pushed it out meanwhile (then it is the oldest: dropped).
      if (this.held.bytes + item.body.length > this.opts.maxBytes || this.held.items + 1 > this.opts.maxItems) this.drop('queue_full');
      else {
        this.items.unshift(item);
        this.bytes += item.body.length;
      }
      this.failures++;
      if (this.failures === 1) this.log(`push to ${this.opts.name} failing (${result.outcome}: ${result.message ?? ''}); retrying with backoff`);
      const delay = this.backoffMs(this.failures);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delay);
      this.retryTimer.unref();
      return;
    }
    if (this.failures > 0) {
      this.log(`push to ${this.opts.name} recovered after ${this.failures} failed attempts (${this.droppedWhileFailing} bodies dropped meanwhile)`);
      this.failures = 0;
      this.droppedWhileFailing = 0;
    }
    if (result.action === 'success') this.counters.sentBytes += item.body.length;
    else {
      this.drop('rejected');
      const n = this.counters.dropped.rejected;
      // Refusals repeat for every window (a bad label, a wrong tenant): log the first and then every 100th.
      if (n === 1 || n % 100 === 0) this.log(`push to ${this.opts.name}: ${item.description} refused (${result.outcome}: ${result.message ?? ''}); ${n} refused so far`);
    }
    this.pump();
  }

  /** The wait after `failures` consecutive failures: min * 2^(failures-1), capped, times a random 50-100%. */
  backoffMs(failures: number): number {
    const base = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(30, failures - 1));
    return Math.round(base * (0.5 + 0.5 * this.random()));
  }

  /** Resolves once nothing is queued or being sent (for tests and measurements). */
  idle(): Promise<void> {
    if (!this.sending && this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts the send in progress and drops what is queued (counted as shutdown). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.drop('shutdown', this.items.length);
    this.items.length = 0;
    this.bytes = 0;
    this.abort.abort(new Error('push queue closed'));
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
