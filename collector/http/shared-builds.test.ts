import { describe, expect, it } from 'vitest';
import { SharedBuilds } from './shared-builds.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('SharedBuilds', () => {
  it('runs one build for concurrent requests of a key, then answers from what it kept', async () => {
    const shared = new SharedBuilds({ maxEntries: 4, maxBytes: 1000 });
    let builds = 0;
    const build = async () => {
      builds++;
      await new Promise((r) => setTimeout(r, 10));
      return bytes(10);
    };
    const signal = new AbortController().signal;
    const answers = await Promise.all([1, 2, 3].map(() => shared.get('k', signal, build)));
    expect(builds).toBe(1);
    expect(answers[0]).toBe(answers[2]);
    await shared.get('k', signal, build);
    expect(builds).toBe(1);
    expect(shared.shared).toBe(3);
    await shared.get(undefined, signal, build); // no key: built alone, not kept
    await shared.get(undefined, signal, build);
    expect(builds).toBe(3);
  });

  it('aborts a build only when every waiter has gone', async () => {
    const shared = new SharedBuilds({ maxEntries: 4, maxBytes: 1000 });
    let aborted = false;
    const build = (s: AbortSignal) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const t = setTimeout(() => resolve(bytes(1)), 50);
        s.addEventListener('abort', () => {
          aborted = true;
          clearTimeout(t);
          reject(s.reason);
        });
      });
    const a = new AbortController();
    const b = new AbortController();
    const pa = shared.get('k', a.signal, build);
    const pb = shared.get('k', b.signal, build);
    a.abort(new Error('a gone'));
    await expect(pa).rejects.toThrow('a gone');
    expect(aborted).toBe(false);
    b.abort(new Error('b gone'));
    await expect(pb).rejects.toThrow('b gone');
    await new Promise((r) => setTimeout(r, 0));
    expect(aborted).toBe(true);
    // A failed build is not kept.
    let ran = 0;
    await shared.get('k', new AbortController().signal, async () => (ran++, bytes(1)));
    expect(ran).toBe(1);
  });

  it('keeps at most maxEntries and maxBytes, and nothing larger than half the bytes', async () => {
    const shared = new SharedBuilds({ maxEntries: 2, maxBytes: 100 });
    const signal = new AbortController().signal;
    let builds = 0;
    const of = (n: number) => async () => (builds++, bytes(n));
    await shared.get('a', signal, of(10));
    await shared.get('b', signal, of(10));
    await shared.get('c', signal, of(10)); // a goes
    await shared.get('a', signal, of(10));
    expect(builds).toBe(4);
    await shared.get('big', signal, of(60)); // not kept
    await shared.get('big', signal, of(60));
    expect(builds).toBe(6);
  });
});
