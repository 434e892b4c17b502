import { describe, expect, it } from 'vitest';
import { TimeSlicer } from './time-slicer.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function* work(steps: number, stepMs: number, log?: string[], name = ''): Generator<void, number> {
  for (let i = 0; i < steps; i++) {
    busy(stepMs);
    log?.push(name);
    yield;
  }
  return steps;
}

describe('TimeSlicer', () => {
  it('runs a job to its result in slices, letting timers run in between', async () => {
    const slicer = new TimeSlicer(5);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const result = await slicer.run(work(100, 1)); // ~100 ms of work
    clearInterval(timer);
    expect(result).toBe(100);
    expect(slicer.stats.slices).toBeGreaterThanOrEqual(15);
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(slicer.stats.longestSliceMs).toBeLessThan(60);
  });

  it('runs one slice per turn of the event loop whatever the number of jobs, taking them in turn', async () => {
    const slicer = new TimeSlicer(4);
    // A turn counter: an immediate scheduled from an immediate runs on the next turn, once per turn.
    let turn = 0;
    let counting = true;
    const count = () => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const jobsByTurn = new Map<number, Set<string>>();
    function* job(name: string): Generator<void, void> {
      for (let i = 0; i < 30; i++) {
        busy(1);
        let names = jobsByTurn.get(turn);
        if (!names) jobsByTurn.set(turn, (names = new Set()));
        names.add(name);
        yield;
      }
    }
    await Promise.all(['a', 'b', 'c', 'd'].map((name) => slicer.run(job(name))));
    counting = false;
    expect([...jobsByTurn.values()].every((names) => names.size === 1)).toBe(true);
    // In turn: every job ran before any finished.
    const firstTurns = [...jobsByTurn.values()].slice(0, 4).map((names) => [...names][0]);
    expect(new Set(firstTurns).size).toBe(4);
  });

  it('rejects with the signal reason and closes the generator when aborted', async () => {
    const slicer = new TimeSlicer(2);
    let closed = false;
    function* endless(): Generator<void, never> {
      try {
        for (;;) {
          busy(1);
          yield;
        }
      } finally {
        closed = true;
      }
    }
    const ctl = new AbortController();
    const job = slicer.run(endless(), ctl.signal);
    setTimeout(() => ctl.abort(new Error('client gone')), 20);
    await expect(job).rejects.toThrow('client gone');
    expect(closed).toBe(true);
    const before = slicer.stats.slices;
    await new Promise((r) => setTimeout(r, 20));
    expect(slicer.stats.slices).toBe(before); // nothing runs for nobody
    await expect(slicer.run(work(1, 0), ctl.signal)).rejects.toThrow('client gone');
  });

  it('passes on what a step throws, and refuses work once closed', async () => {
    const slicer = new TimeSlicer();
    function* failing(): Generator<void, void> {
      yield;
      throw new Error('bad step');
    }
    await expect(slicer.run(failing())).rejects.toThrow('bad step');
    const waiting = slicer.run(work(1000, 1));
    slicer.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(slicer.run(work(1, 0))).rejects.toThrow(/closed/);
  });
});
