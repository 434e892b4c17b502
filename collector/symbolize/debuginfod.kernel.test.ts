// debuginfod: the agent profiles a stripped binary, fetches its symbols by build-id from a local server
// (DEBUGINFOD_URLS) in the background, and names its frames in later windows.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countWhere, decodeProfile, total } from './test-support/profile.js';
import { HOT_LOOP_SOURCE, compileWorkload, requireRoot, startAgent, tempDir } from '../test-support/kernel.js';

describe('debuginfod (kernel)', () => {
  it('names a stripped binary with symbols served by build-id', async () => {
    requireRoot();
    const dir = tempDir('hotpath-debuginfod-');
    const full = compileWorkload(dir, 'hot-full', HOT_LOOP_SOURCE);
    const stripped = join(dir, 'hot-stripped');
    execFileSync('strip', ['-o', stripped, full]);
    const buildId = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', stripped], { encoding: 'utf8' }))![1];
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      if (req.url === `/buildid/${buildId}/debuginfo`) res.end(readFileSync(full));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const cache = join(dir, 'cache');
    process.env.DEBUGINFOD_URLS = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.HOTPATH_DEBUGINFOD_CACHE = cache;
    const agent = await startAgent(['--programs', 'cpu', '--window', '1s']);
    delete process.env.DEBUGINFOD_URLS;
    delete process.env.HOTPATH_DEBUGINFOD_CACHE;
    const child = spawn(stripped, [], { stdio: 'ignore' });
    try {
      // The first window that sees the process asks for its build-id.
      for (let i = 0; i < 100 && !existsSync(join(cache, buildId, 'debuginfo')); i++) await new Promise((r) => setTimeout(r, 100));
      expect(asked).toContain(`/buildid/${buildId}/debuginfo`);
      const res = await fetch(`${agent.url}/debug/pprof/profile?seconds=2&pid=${child.pid}`);
      expect(res.status).toBe(200);
      const samples = decodeProfile(Buffer.from(await res.arrayBuffer()));
      const hot = countWhere(samples, (f) => f.name === 'hotpath_serve_hot' && f.mapping === stripped);
      console.log(`debuginfod: ${hot} of ${total(samples)} samples of the stripped binary named`);
      expect(total(samples)).toBeGreaterThan(50);
      expect(hot / total(samples)).toBeGreaterThan(0.9);
      expect(asked.filter((u) => u.includes(buildId))).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
      await agent.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
