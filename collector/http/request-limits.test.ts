import { describe, expect, it } from 'vitest';
import { Gate, GateFullError, TokenBucket } from './request-limits.js';

describe('Gate', () => {
  it('lets maxRunning in, queues maxWaiting, refuses the rest', async () => {
    const gate = new Gate(2, 1);
    const a = await gate.acquire();
    const b = await gate.acquire();
    const order: string[] = [];
    const c = gate.acquire().then((r) => (order.push('c'), r));
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateFullError);
    expect(gate.inUse).toEqual({ running: 2, waiting: 1 });
    a();
    a(); // releasing twice frees one slot
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(gate.inUse).toEqual({ running: 2, waiting: 0 });
    b();
    releaseC();
    expect(gate.inUse).toEqual({ running: 0, waiting: 0 });
  });

  it('puts priority callers first and never refuses them', async () => {
    const gate = new Gate(1, 1);
    const first = await gate.acquire();
    const order: string[] = [];
    const ordinary = gate.acquire().then((r) => (order.push('ordinary'), r));
    const p1 = gate.acquire(undefined, true).then((r) => (order.push('p1'), r));
    const p2 = gate.acquire(undefined, true).then((r) => (order.push('p2'), r));
    first();
    (await p1)();
    (await p2)();
    (await ordinary)();
    expect(order).toEqual(['p1', 'p2', 'ordinary']);
  });

  it('a waiter whose signal aborts leaves the line', async () => {
    const gate = new Gate(1, 4);
    const first = await gate.acquire();
    const ctl = new AbortController();
    const waiting = gate.acquire(ctl.signal);
    ctl.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(gate.inUse.waiting).toBe(0);
    first();
    expect(gate.inUse.running).toBe(0);
    await expect(gate.acquire(ctl.signal)).rejects.toThrow('gone');
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then one per interval', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 3, () => now);
    expect([bucket.allow(), bucket.allow(), bucket.allow(), bucket.allow()]).toEqual([true, true, true, false]);
    now = 50;
    expect(bucket.allow()).toBe(false);
    now = 100;
    expect(bucket.allow()).toBe(true);
    now = 10_000;
    expect([bucket.allow(), bucket.allow(), bucket.allow(), bucket.allow()]).toEqual([true, true, true, false]);
  });
});
