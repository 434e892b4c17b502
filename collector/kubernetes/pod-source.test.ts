// PodSource against local HTTP servers that stand in for the kubelet's /pods and the API server's list and
// watch (JSON shaped as theirs): polling, errors counted and retried, close() ending an open watch at once.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PodSource } from './pod-source.js';

const ID = 'e'.repeat(64);
const POD = {
  kind: 'Pod', apiVersion: 'v1',
  metadata: { uid: '11111111-2222-4333-8444-555555555555', name: 'agent-x7k2p', namespace: 'kube-system', resourceVersion: '5', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', controller: true }] },
  spec: { nodeName: 'n1' },
  status: { containerStatuses: [{ name: 'main', containerID: `containerd://${ID}`, ready: true, restartCount: 0 }] },
};

let server: Server | undefined;
let source: PodSource | undefined;
const open: ServerResponse[] = [];

async function serve(handler: (path: string, query: URLSearchParams, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    handler(url.pathname, url.searchParams, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterEach(async () => {
  await source?.close();
  for (const r of open) r.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = source = undefined;
});

describe('PodSource', () => {
  it('kubelet: reads /pods and labels the DaemonSet\'s container', async () => {
    let reads = 0;
    const base = await serve((path, _q, res) => {
      reads++;
      expect(path).toBe('/pods');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [POD] }));
    });
    source = new PodSource({ kind: 'kubelet', nodeName: 'n1', baseUrl: base, pollMs: 50 });
    source.start();
    await until(() => reads >= 2);
    expect(source.lookup(undefined, ID)).toEqual({ namespace: 'kube-system', pod: 'agent-x7k2p', container: 'main', workload: 'agent' });
  });

  it('api: a failed list is counted by status and retried; the watch that follows is ended by close()', async () => {
    let lists = 0;
    const base = await serve((_p, q, res) => {
      if (q.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: POD })}\n`);
        open.push(res);
        return;
      }
      if (lists++ === 0) return void res.writeHead(500).end('{"kind":"Status","code":500}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '9' }, items: [] }));
    });
    source = new PodSource({ kind: 'api', nodeName: 'n1', baseUrl: base });
    source.start();
    await until(() => source!.stats().events === 1);
    expect(source.stats()).toMatchObject({ pods: 1, errors: { http_500: 1 }, lists: 1 });
    const t0 = Date.now();
    await source.close();
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('api: an unreachable server is counted as connect errors and never throws', async () => {
    const base = await serve((_p, _q, res) => res.destroy());
    source = new PodSource({ kind: 'api', nodeName: 'n1', baseUrl: base });
    source.start();
    await until(() => (source!.stats().errors.connect ?? 0) >= 1);
    expect(source.lookup(undefined, ID)).toBeUndefined();
  });
});
