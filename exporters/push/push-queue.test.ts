import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PushQueue, type QueuedBody, type SendResult } from './push-queue.js';

const body = (n: number, fill = 0) => new Uint8Array(n).fill(fill);
/** A fixed sequence in [0, 1) for the jitter (exporters/ may not import the collector's test PRNG). */
const seeded = () => {
  let x = 0;
  return () => (x = (x + 0.618034) % 1);
};

describe('PushQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rides out a receiver down for 30 s: drops the oldest past its bound, drains after, never blocks offer', async () => {
    const start = Date.now();
    const downFrom = start + 10_000;
    const downTo = start + 40_000;
    const delivered: number[] = [];
    const deliveredAt: number[] = [];
    const logged: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const q = new PushQueue({
      name: 'test',
      maxBytes: 10_000,
      maxItems: 100,
      minBackoffMs: 500,
      maxBackoffMs: 4_000,
      random: seeded(),
      log: (l) => logged.push(l),
      send: async (item: QueuedBody): Promise<SendResult> => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 50)); // a round trip
        inFlight--;
        const now = Date.now();
        if (now >= downFrom && now < downTo) return { outcome: 'network_error', action: 'retry', message: 'ECONNREFUSED' };
        delivered.push(item.body[0]);
        deliveredAt.push(now);
        return { outcome: 'success', action: 'success' };
      },
    });
    let peak = 0;
    // A window every 2 s for 60 s, 1000 bytes each (numbered in the first byte).
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      expect(q.offer(body(1000, i), `window ${i}`)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(50); // synchronous: no waiting on the network
      peak = Math.max(peak, q.stats().queueBytes);
      await vi.advanceTimersByTimeAsync(2_000);
      peak = Math.max(peak, q.stats().queueBytes);
    }
    await vi.advanceTimersByTimeAsync(10_000);
    const st = q.stats();
    expect(maxInFlight).toBe(1);
    expect(peak).toBeLessThanOrEqual(10_000);
    expect(st.peakQueueBytes).toBeLessThanOrEqual(10_000);
    expect(st.queueBytes).toBe(0);
    expect(st.queueItems).toBe(0);
    // 15 windows offered while down, 10 fit: the oldest are dropped, counted.
    expect(st.dropped.queue_full).toBeGreaterThanOrEqual(4);
    expect(delivered.length + st.dropped.queue_full).toBe(30);
    // In order, and what was dropped were the oldest of the outage, the newest were kept.
    expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
    // Windows 0-4 went out before the outage; of those offered during it, the oldest went first: what is
    // missing is one run starting at window 5, and everything after it arrived.
    const missing = Array.from({ length: 30 }, (_, i) => i).filter((i) => !delivered.includes(i));
    expect(missing).toEqual(Array.from({ length: st.dropped.queue_full }, (_, i) => 5 + i));
    expect(st.requests.network_error).toBeGreaterThan(3);
    // The backoff was capped: with a 4 s cap the first retry after the outage came within 4 s + a round trip.
    const firstAfter = deliveredAt.find((t) => t >= downTo)!;
    expect(firstAfter - downTo).toBeLessThanOrEqual(4_000 + 50);
    expect(st.sentBytes).toBe(delivered.length * 1000);
    expect(logged.some((l) => /failing \(network_error: ECONNREFUSED\)/.test(l))).toBe(true);
    expect(logged.some((l) => /recovered after \d+ failed attempts \(\d+ bodies dropped meanwhile\)/.test(l))).toBe(true);
  });

  it('backs off exponentially up to the cap, with jitter between half and all of it', () => {
    const q = new PushQueue({ name: 't', maxBytes: 1, maxItems: 1, minBackoffMs: 100, maxBackoffMs: 1_000, send: async () => ({ outcome: 'success', action: 'success' }) });
    for (const [failures, base] of [[1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [40, 1000]] as const) {
      for (let i = 0; i < 20; i++) {
        const d = q.backoffMs(failures);
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('drops a refused body at once (no retry) and one larger than the queue', async () => {
    let calls = 0;
    const logged: string[] = [];
    const q = new PushQueue({
      name: 't', maxBytes: 100, maxItems: 10, log: (l) => logged.push(l),
      send: async () => {
        calls++;
        return { outcome: 'rejected', action: 'drop', message: 'HTTP 400 invalid_argument: bad label' };
      },
    });
    q.offer(body(10), 'a');
    q.offer(body(101), 'b');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(1);
    expect(q.stats().dropped).toEqual({ queue_full: 0, too_large: 1, rejected: 1, shutdown: 0 });
    expect(q.stats().requests).toEqual({ rejected: 1 });
    expect(logged.join('\n')).toMatch(/a refused \(rejected: HTTP 400 invalid_argument: bad label\)/);
  });

  it('bounds items as well as bytes', async () => {
    const q = new PushQueue({ name: 't', maxBytes: 1e6, maxItems: 3, send: () => new Promise(() => {}) });
    for (let i = 0; i < 10; i++) q.offer(body(1), `w${i}`);
    expect(q.stats().queueItems).toBe(3);
    expect(q.stats().dropped.queue_full).toBe(7);
    q.close();
  });

  it('close aborts the send in flight and counts what was queued as dropped for shutdown', async () => {
    let aborted = false;
    const q = new PushQueue({
      name: 't', maxBytes: 1e6, maxItems: 10,
      send: (_item, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => {
        aborted = true;
        reject(signal.reason);
      })),
    });
    q.offer(body(5), 'a');
    q.offer(body(5), 'b');
    q.offer(body(5), 'c');
    q.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(aborted).toBe(true);
    expect(q.stats().dropped.shutdown).toBe(3);
    expect(q.stats().queueBytes).toBe(0);
    expect(q.offer(body(1), 'late')).toBe(false);
    await q.idle();
  });
});
