// --kubernetes on a live agent. There is no cluster here: a local HTTPS server STANDS IN FOR THE KUBERNETES API
// SERVER. It answers the list and watch requests of /api/v1/pods with the JSON the real one sends (PodList,
// newline-delimited watch events, a 410 Gone ERROR event for an expired resourceVersion), and requires the
// bearer token. The workloads are real processes placed in cgroups named as the kubelet names them (systemd
// driver: kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope; cgroupfs driver: kubepods/<qos>/pod<uid>/<id>),
// so the agent finds pod UID and container id as it does on a node. Profiles are decoded with pprof-format.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProfile, type DecodedSample } from '../symbolize/test-support/profile.js';
import { HOT_LOOP_SOURCE, compileWorkload, requireRoot, startAgent, tempDir, waitFor as waitForValue, type RunningAgent } from '../test-support/kernel.js';

const CGROUP_ROOT = '/sys/fs/cgroup/unified';
const NODE = 'test-node-7';
const TOKEN = 'test-service-account-token';
const suffix = process.pid.toString(16).padStart(8, '0');
// Pod UIDs and container ids unique to this run (another test run may share the machine's cgroups).
const WEB_UID = `0d5c7a1e-3b2f-4c8d-9e6a-${suffix}abcd`;
const DB_UID = `7e1f2a3b-4c5d-4e6f-8a9b-${suffix}0123`;
const STRAY_UID = `9a8b7c6d-5e4f-4a3b-8c2d-${suffix}4567`;
const WEB_CONTAINER = `${suffix}${'a1'.repeat(28)}`;
const DB_CONTAINER = `${suffix}${'b2'.repeat(28)}`;
const STRAY_CONTAINER = `${suffix}${'c3'.repeat(28)}`;

const CGROUPS = {
  // systemd cgroup driver: the UID's dashes become underscores.
  web: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${WEB_UID.replace(/-/g, '_')}.slice/cri-containerd-${WEB_CONTAINER}.scope`,
  // cgroupfs driver.
  db: `kubepods/besteffort/pod${DB_UID}/${DB_CONTAINER}`,
  stray: `kubepods/besteffort/pod${STRAY_UID}/${STRAY_CONTAINER}`,
};

/** A core/v1 Pod as the API server sends it (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/). */
function podJson(o: { uid: string; name: string; rv: string; owner: { apiVersion: string; kind: string; name: string }; container: string; id: string; labels?: Record<string, string> }) {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: o.name,
      namespace: 'shop',
      uid: o.uid,
      resourceVersion: o.rv,
      creationTimestamp: '2026-05-04T08:00:00Z',
      labels: { app: o.owner.name, ...o.labels },
      ownerReferences: [{ ...o.owner, uid: '5f0a3c2e-0000-4000-8000-000000000001', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: NODE,
      containers: [{ name: o.container, image: `registry.example/${o.container}:1.0` }],
      restartPolicy: 'Always',
    },
    status: {
      phase: 'Running',
      podIP: '10.244.1.17',
      containerStatuses: [{
        name: o.container,
        state: { running: { startedAt: '2026-05-04T08:00:03Z' } },
        ready: true,
        restartCount: 0,
        image: `registry.example/${o.container}:1.0`,
        imageID: `registry.example/${o.container}@sha256:${'0'.repeat(64)}`,
        containerID: `containerd://${o.id}`,
        started: true,
      }],
    },
  };
}

const WEB_POD = podJson({
  uid: WEB_UID, name: 'web-7d4b9c8f5-x2k9q', rv: '1001', owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c8f5' },
  container: 'nginx', id: WEB_CONTAINER, labels: { 'pod-template-hash': '7d4b9c8f5' },
});
const DB_POD = podJson({ uid: DB_UID, name: 'db-0', rv: '1203', owner: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }, container: 'postgres', id: DB_CONTAINER });

/** Stands in for the API server: list, watch (first one answered 410 Gone), bearer token checked. */
class FakeApiServer {
  readonly requests: { path: string; query: URLSearchParams; authorized: boolean }[] = [];
  private watchers: ServerResponse[] = [];
  private server: Server | undefined;
  private watches = 0;

  async start(cert: Buffer, key: Buffer): Promise<number> {
    this.server = createServer({ cert, key }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x');
      const authorized = req.headers.authorization === `Bearer ${TOKEN}`;
      this.requests.push({ path: url.pathname, query: url.searchParams, authorized });
      if (!authorized) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      if (url.pathname !== '/api/v1/pods' || url.searchParams.get('fieldSelector') !== `spec.nodeName=${NODE}`) {
        return void res.writeHead(404).end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('watch') !== 'true') {
        return void res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1100' }, items: [WEB_POD] }));
      }
      if (this.watches++ === 0) {
        // The resourceVersion was compacted away: the client must list again.
        const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1100 (1150)', reason: 'Expired', code: 410 };
        return void res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      }
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '1150' } } })}\n`);
      this.watchers.push(res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  get openWatches(): number {
    return this.watchers.filter((w) => !w.destroyed && !w.writableEnded).length;
  }

  send(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void {
    for (const w of this.watchers) if (!w.destroyed) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function startInCgroup(binary: string, cgroup: string): ChildProcess {
  const dir = join(CGROUP_ROOT, cgroup);
  mkdirSync(dir, { recursive: true });
  return spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec ${binary}`], { stdio: 'ignore' });
}

function removeCgroup(cgroup: string): void {
  const parts = cgroup.split('/');
  for (let i = parts.length; i > 0; i--) {
    const dir = join(CGROUP_ROOT, ...parts.slice(0, i));
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      return; // still used (by another run's pods): leave the parents
    }
  }
}

/** Polls every 200 ms (test-support's waitFor). */
const waitFor = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> =>
  waitForValue(what, fn, timeoutMs, 200);

describe('Kubernetes pod labels (kernel)', () => {
  const api = new FakeApiServer();
  let agent: RunningAgent;
  const workloads: Record<keyof typeof CGROUPS, ChildProcess | undefined> = { web: undefined, db: undefined, stray: undefined };

  const profile = async (): Promise<DecodedSample[]> => {
    const res = await request(`${agent.url}/debug/pprof/profile?seconds=2`);
    expect(res.statusCode).toBe(200);
    return decodeProfile(Buffer.from(await res.body.arrayBuffer()));
  };
  const labelsOf = (samples: DecodedSample[], w: keyof typeof CGROUPS) => {
    const mine = samples.filter((s) => s.labels.pid === workloads[w]!.pid);
    expect(mine.length, `samples of the ${w} workload`).toBeGreaterThan(0);
    const { namespace, pod, container, workload, pod_uid, container_id } = mine[0].labels;
    // Every sample of the process carries the same labels.
    for (const s of mine) expect(s.labels.pod).toBe(pod);
    return { namespace, pod, container, workload, pod_uid, container_id };
  };

  beforeAll(async () => {
    requireRoot();
    const dir = tempDir('hotpath-k8s-');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'api.key'), '-out', join(dir, 'ca.crt'),
    ], { stdio: 'pipe' });
    const port = await api.start(readFileSync(join(dir, 'ca.crt')), readFileSync(join(dir, 'api.key')));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    const hot = compileWorkload(dir, 'podhot', HOT_LOOP_SOURCE);
    for (const w of Object.keys(CGROUPS) as (keyof typeof CGROUPS)[]) workloads[w] = startInCgroup(hot, CGROUPS[w]);
    await new Promise((r) => setTimeout(r, 300));
    agent = await startAgent([
      '--programs', 'cpu', '--window', '1s', ...Object.values(workloads).flatMap((c) => ['--pid', String(c!.pid)]),
      '--kubernetes', '--kubernetes-node', NODE, '--kubernetes-api', `https://127.0.0.1:${port}`,
      '--kubernetes-token-file', join(dir, 'token'), '--kubernetes-ca-file', join(dir, 'ca.crt'),
    ]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
    const exits = Object.values(workloads).map((c) => c && c.exitCode === null && new Promise((r) => c.once('exit', r)));
    for (const c of Object.values(workloads)) c?.kill('SIGKILL');
    await Promise.all(exits);
    for (const cg of Object.values(CGROUPS)) removeCgroup(cg);
    await api.stop();
  });

  it('lists this node\'s pods with the token, relists after 410 Gone and watches from the list\'s resourceVersion', async () => {
    await waitFor('an open watch', () => (api.openWatches > 0 ? true : undefined), 20_000);
    const lists = api.requests.filter((r) => r.query.get('watch') !== 'true');
    const watches = api.requests.filter((r) => r.query.get('watch') === 'true');
    expect(api.requests.every((r) => r.authorized)).toBe(true);
    expect(lists.length).toBe(2);
    expect(watches.length).toBe(2);
    for (const w of watches) expect(w.query.get('resourceVersion')).toBe('1100');
    const metrics = await (await request(`${agent.url}/metrics`)).body.text();
    expect(metrics).toMatch(/^hotpath_kubernetes_pods 1$/m);
    expect(metrics).toMatch(/^hotpath_kubernetes_errors_total\{reason="gone"\} 1$/m);
  });

  it('labels a listed pod\'s process with namespace, pod, container and its Deployment, and leaves an unknown pod unlabelled', async () => {
    const samples = await profile();
    expect(labelsOf(samples, 'web')).toEqual({
      namespace: 'shop', pod: 'web-7d4b9c8f5-x2k9q', container: 'nginx', workload: 'web', pod_uid: WEB_UID, container_id: WEB_CONTAINER,
    });
    // Known to the cgroup, not to the API server (yet): no Kubernetes labels, the cgroup's ids still there.
    expect(labelsOf(samples, 'db')).toEqual({ pod_uid: DB_UID, container_id: DB_CONTAINER });
    expect(labelsOf(samples, 'stray')).toEqual({ pod_uid: STRAY_UID, container_id: STRAY_CONTAINER });
  });

  it('follows watch events: an ADDED pod is labelled in the next profile, a DELETED one no longer', async () => {
    api.send('ADDED', DB_POD);
    await waitFor('the added pod in the metrics', async () => {
      const text = await (await request(`${agent.url}/metrics`)).body.text();
      return /^hotpath_kubernetes_pods 2$/m.test(text) ? true : undefined;
    }, 10_000);
    expect(labelsOf(await profile(), 'db')).toEqual({
      namespace: 'shop', pod: 'db-0', container: 'postgres', workload: 'db', pod_uid: DB_UID, container_id: DB_CONTAINER,
    });
    api.send('DELETED', { ...DB_POD, metadata: { ...DB_POD.metadata, resourceVersion: '1300' } });
    await waitFor('the deleted pod gone from the metrics', async () => {
      const text = await (await request(`${agent.url}/metrics`)).body.text();
      return /^hotpath_kubernetes_pods 1$/m.test(text) ? true : undefined;
    }, 10_000);
    const after = await profile();
    expect(labelsOf(after, 'db').namespace).toBeUndefined();
    expect(labelsOf(after, 'web').workload).toBe('web');
  });
});
