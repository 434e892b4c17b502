// Shutdown while a window is being drained: close() waits for the drain, the drain stops before touching
// freed maps, and nothing is called on libbpf after close. A use after free would crash this process.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, HotpathError } from '../errors.js';
import { FLIP_GRACE_MS } from '../bpf/window-protocol.js';
import { CpuSource } from './cpu.js';
import { OffcpuSource } from './offcpu.js';
import type { StackSource } from './types.js';
import { requireRoot } from '../test-support/kernel.js';

const starters: [string, () => StackSource][] = [
  ['cpu', () => CpuSource.start({ hz: 99 })],
  ['offcpu', () => OffcpuSource.start()],
];

describe('closing a stack source during a drain (kernel)', () => {
  for (const [name, start] of starters) {
    it(`${name}: 30 closes landing before, during and after the grace sleep`, async () => {
      requireRoot();
      const outcomes = { drained: 0, closed: 0 };
      for (let i = 0; i < 30; i++) {
        const source = start();
        await source.drain(); // one full window first: the maps hold data and stacks
        const pending = source.drain();
        // Spread the close over the flip, the grace sleep and the read that follows it.
        await sleep((i % 6) * (FLIP_GRACE_MS / 2.5));
        const closing = source.close();
        const second = source.close();
        const result = await pending.then(
          (w) => ({ ok: true as const, w }),
          (err: unknown) => ({ ok: false as const, err }),
        );
        await Promise.all([closing, second]);
        if (result.ok) {
          outcomes.drained++;
          expect(result.w.endNs).toBeGreaterThan(result.w.startNs);
        } else {
          outcomes.closed++;
          expect(result.err).toBeInstanceOf(HotpathError);
          expect((result.err as HotpathError).code).toBe(ErrorCodes.CLOSED);
        }
        // After close: every use is a coded error, never a call into freed libbpf objects.
        await expect(source.drain()).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
        expect(() => source.programStats()).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
      }
      console.log(`${name}: ${outcomes.drained} drains finished before close, ${outcomes.closed} stopped by it`);
      // Both paths were taken: a close during the grace sleep stops the drain; a later one waits for it.
      expect(outcomes.closed).toBeGreaterThan(0);
      expect(outcomes.drained).toBeGreaterThan(0);
    });
  }
});
