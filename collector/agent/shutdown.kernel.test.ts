// The agent shut down while windows are being cut (a SIGTERM during a drain): close() waits for the cut in
// progress, then frees the programs; nothing touches the kernel maps afterwards.
import { release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { requireRoot } from '../test-support/kernel.js';
import { Agent } from './agent.js';

describe('Agent.close during a cut (kernel)', () => {
  it('waits for the cut in progress, 8 times over, and stays closed', async () => {
    requireRoot();
    const logged: string[] = [];
    for (let i = 0; i < 8; i++) {
      const agent = await Agent.start({
        hz: 99, programs: ['cpu', 'offcpu', 'runqlat'], windowSeconds: 1, retentionSeconds: 60, maxStoreBytes: 64 << 20,
        pids: [], minBlockNs: 1000, version: 'test', kernel: release(), log: (line) => logged.push(line),
      });
      expect(agent.attachedPrograms).toEqual(['cpu', 'offcpu', 'runqlat']);
      await agent.cut();
      const cut = agent.cut();
      const live = agent.live('cpu', 1, []).catch((err: unknown) => err);
      await sleep(i * 3);
      await Promise.all([agent.close(), agent.close()]);
      // The cut either finished before the sources closed or ended early; it never fails on closed maps.
      await cut;
      await live;
      // Closed: a cut reads nothing.
      expect((await agent.cut()).size).toBe(0);
    }
    // No drain or symbolize error was logged: no drain reached a closed source (the start's sizing and resolver
    // lines aside, one each per start).
    const startLines = ['cpu: maps sized for ', 'hotpath serve: files of profiled processes opened by '];
    expect(logged.filter((line) => !startLines.some((start) => line.startsWith(start)))).toEqual([]);
    expect(logged).toHaveLength(16);
  });
});
