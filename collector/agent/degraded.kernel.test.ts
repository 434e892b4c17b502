// A selected program that cannot be loaded is reported (log, index page, /healthz, metric) and the others
// keep running.
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, requireRoot, startAgent, tempDir, type RunningAgent } from '../test-support/kernel.js';

describe('agent with a program that fails (kernel)', () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    requireRoot();
    const dir = tempDir('hotpath-degraded-');
    const built = join(repoRoot, 'dist', 'programs');
    for (const f of readdirSync(built)) if (f.endsWith('.bpf.o') && f !== 'biolatency.bpf.o') copyFileSync(join(built, f), join(dir, f));
    agent = await startAgent(['--programs', 'runqlat,biolatency', '--window', '1s'], 60_000, { HOTPATH_PROGRAMS_DIR: dir });
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('logs the failure, keeps the others, and says so on /healthz, / and /metrics', async () => {
    expect(agent.stderr()).toMatch(/program biolatency not running: find BPF object biolatency\.bpf\.o: not built/);
    const health = await request(`${agent.url}/healthz`);
    expect(health.statusCode).toBe(200);
    expect(await health.body.text()).toMatch(/attached: runqlat; not attached: biolatency/);
    const index = await request(`${agent.url}/`);
    expect(await index.body.text()).toMatch(/biolatency: <b>not attached<\/b>/);
    const metrics = await (await request(`${agent.url}/metrics`)).body.text();
    expect(metrics).toMatch(/^hotpath_program_attached\{program="biolatency"\} 0$/m);
    expect(metrics).toMatch(/^hotpath_program_attached\{program="runqlat"\} 1$/m);
    expect(metrics).toMatch(/^hotpath_runqueue_latency_seconds_count [1-9]\d*$/m);
    expect(metrics).not.toMatch(/hotpath_block_io_latency_seconds/);
  });
});
