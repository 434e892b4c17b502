// HttpServer against a stand-in agent (no kernel): the guards and bounds in front of the routes.
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricsExporter } from '../../exporters/metrics/index.js';
import { fixture } from '../../exporters/pprof/test-support/fixture.js';
import type { Agent, ProfileSelection } from '../agent/agent.js';
import { WindowStore } from '../windows/window-store.js';
import { HttpServer, type RequestLimits } from './server.js';

const NOW_NS = fixture().timeNanos + 100_000_000_000n;

/** A stand-in agent: history reads one fixture window; live waits its seconds (abortable) and reads another. */
function fakeAgent(counts: { history: number; live: number }): Agent {
  const { sampleTypes, periodType, period } = fixture();
  const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
  const window = store.add(fixture(), fixture().timeNanos);
  const select = (fromNs: bigint, toNs: bigint, pids: number[]): ProfileSelection => ({
    kind: 'cpu', header: { sampleTypes, periodType, period }, fromNs, toNs, pids, windows: [window], catalog: store.catalog,
  });
  return {
    statuses: [{ program: 'cpu', attached: true }],
    options: { windowSeconds: 10 },
    latencyPrograms: [],
    health: () => ({ ok: true, reason: 'attached: cpu' }),
    hasProfile: (kind: string) => kind === 'cpu',
    oldestRetainedNs: () => window.startNs,
    history: (_kind: string, fromNs: bigint, toNs: bigint, pids: number[]) => {
      counts.history++;
      return select(fromNs, toNs, pids);
    },
    live: async (_kind: string, seconds: number, pids: number[], signal?: AbortSignal) => {
      counts.live++;
      await sleep(seconds * 1000, undefined, { signal });
      return { ...select(0n, 1n, pids), windows: [store.add(fixture(), fixture().timeNanos)] };
    },
  } as unknown as Agent;
}

const metrics = { collect: async () => ({ text: 'hotpath_test 1\n', errors: [] }) } as unknown as MetricsExporter;

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(limits: Partial<RequestLimits> = {}, log: string[] = []) {
  const counts = { history: 0, live: 0 };
  server = new HttpServer({
    host: '127.0.0.1', port: 0, agent: fakeAgent(counts), metrics, retentionNs: 3600_000_000_000n, nowNs: () => NOW_NS,
    limits, log: (line) => log.push(line),
  });
  const { port } = await server.listen();
  return { url: `http://127.0.0.1:${port}`, port, counts, log };
}

const historyPath = `/debug/pprof/profile?from=${(NOW_NS - 50_000_000_000n) / 1_000_000_000n}&to=${NOW_NS / 1_000_000_000n}`;

describe('HttpServer', () => {
  it('an accept error after listen (EMFILE) is logged, not thrown: the agent goes on', async () => {
    const { url, log } = await start();
    const inner = (server as unknown as { server: Server }).server;
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    expect(() => inner.emit('error', emfile)).not.toThrow();
    inner.emit('error', emfile);
    expect(log.filter((l) => /accept: EMFILE/.test(l))).toHaveLength(1); // rate-limited
    expect((await request(`${url}/healthz`)).statusCode).toBe(200);
  });

  it('answers 421 to a Host header that does not name this loopback agent', async () => {
    const { url, port } = await start();
    const evil = await request(`${url}/healthz`, { headers: { host: 'evil.example' } });
    expect(evil.statusCode).toBe(421);
    expect(evil.headers['x-go-pprof']).toBe('1');
    await evil.body.text();
    const ok = await request(`${url}/healthz`, { headers: { host: `localhost:${port}` } });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    expect(server!.rejectedRequests()).toEqual([{ route: '/healthz', code: '421', requests: 1 }]);
  });

  it('caps live profiles (429) and frees a place as soon as its client goes away', async () => {
    const { url } = await start({ maxLiveProfiles: 2 });
    const ctls = [new AbortController(), new AbortController()];
    const pending = ctls.map((c) => request(`${url}/debug/pprof/profile?seconds=600`, { signal: c.signal }).catch(() => 'aborted'));
    await sleep(100);
    const third = await request(`${url}/debug/pprof/profile?seconds=1`);
    expect(third.statusCode).toBe(429);
    expect(await third.body.text()).toMatch(/too many live profiles in progress \(at most 2\)/);
    ctls[0].abort();
    await pending[0];
    await sleep(50);
    const fourth = await request(`${url}/debug/pprof/profile?seconds=1`);
    expect(fourth.statusCode).toBe(200);
    expect(fourth.headers['content-type']).toBe('application/octet-stream');
    await fourth.body.arrayBuffer();
    ctls[1].abort();
    await pending[1];
  });

  it('close() answers pending requests 503 and returns at once', async () => {
    const { url } = await start();
    const pending = [1, 2, 3].map(() =>
      request(`${url}/debug/pprof/profile?seconds=600`).then(
        async (r) => [r.statusCode, await r.body.text()] as const,
        () => [0, 'closed'] as const,
      ),
    );
    await sleep(100);
    const t0 = performance.now();
    await server!.close();
    expect(performance.now() - t0).toBeLessThan(1500);
    for (const [status, body] of await Promise.all(pending)) {
      expect(status).toBe(503);
      expect(body).toMatch(/shutting down/);
    }
  });

  it('requests for the same windows share one build; a full line is answered 429', async () => {
    const { url } = await start({ maxConcurrentBuilds: 1, maxQueuedBuilds: 0 });
    const bodies = await Promise.all([1, 2, 3, 4].map(async () => {
      const r = await request(`${url}${historyPath}`);
      expect(r.statusCode).toBe(200);
      return Buffer.from(await r.body.arrayBuffer());
    }));
    for (const b of bodies) expect(b.equals(bodies[0])).toBe(true);
    // Distinct selections (pid filters) cannot share: one builds, the line holds none, the rest are refused.
    const statuses = await Promise.all([100, 200, 300].map(async (pid) => {
      const r = await request(`${url}${historyPath}&pid=${pid}`);
      await r.body.arrayBuffer();
      return r.statusCode;
    }));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses).toContain(200);
  });

  it('reuses a scrape for scrapes right after it', async () => {
    let collects = 0;
    const counting = { collect: async () => ({ text: `c ${++collects}\n`, errors: [] }) } as unknown as MetricsExporter;
    server = new HttpServer({
      host: '127.0.0.1', port: 0, agent: fakeAgent({ history: 0, live: 0 }), metrics: counting, retentionNs: 1n, nowNs: () => NOW_NS,
      limits: { metricsReuseMs: 200 },
    });
    const { port } = await server.listen();
    const scrape = async () => (await request(`http://127.0.0.1:${port}/metrics`)).body.text();
    expect(await scrape()).toBe('c 1\n');
    expect(await scrape()).toBe('c 1\n');
    await sleep(250);
    expect(await scrape()).toBe('c 2\n');
  });

  it('serving / folds the page view ahead: its /flamegraph and /api/top share that fold; inverted=1 gives an icicle', async () => {
    const { url, counts } = await start();
    const page = await request(`${url}/`);
    expect(page.statusCode).toBe(200);
    // The timeline it opens on comes in the page (the client skips /api/timeline for that query).
    const html = await page.body.text();
    const config = JSON.parse(/<script id="config" type="application\/json">(.*?)<\/script>/s.exec(html)![1]) as { timeline: { query: string; data: { windows: unknown[] } } };
    expect(config.timeline.query).toBe('type=cpu&by=comm');
    expect(config.timeline.data.windows.length).toBe(1);
    expect(counts.history).toBe(2); // the timeline's selection and the prefetch's
    const range = historyPath.slice(historyPath.indexOf('?') + 1);
    const graph = await request(`${url}/flamegraph?type=cpu&${range}&width=900&inverted=1`);
    expect(graph.statusCode).toBe(200);
    expect(await graph.body.text()).toContain('data-inverted="1"');
    const top = await request(`${url}/api/top?type=cpu&${range}`);
    expect(top.statusCode).toBe(200);
    expect((await top.body.json() as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
    // Both found the fold started by / (without it: the graph builds one, the table shares it).
    expect(server!.foldsShared).toBe(2);
    const upright = await request(`${url}/flamegraph?type=cpu&${range}&width=900&inverted=0`);
    expect(await upright.body.text()).toContain('data-inverted="0"');
    const bad = await request(`${url}/flamegraph?type=cpu&${range}&inverted=yes`);
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toMatch(/invalid inverted "yes": expected 0 or 1/);
  });

  it('does not fold ahead, nor embed a timeline, for a page opened on a range or a filter (its requests would not use them)', async () => {
    const { url, counts } = await start();
    for (const q of ['?from=1&to=2', '?comm=x', '?type=cpu&pid=3']) {
      const page = await request(`${url}/${q}`);
      expect(page.statusCode).toBe(200);
      expect(await page.body.text()).toContain('"timeline":null');
    }
    expect(counts.history).toBe(0);
  });
});
