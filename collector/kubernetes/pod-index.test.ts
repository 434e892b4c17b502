// PodIndex on pod JSON shaped as the API server returns it (core/v1 Pod, trimmed to the fields read).
import { describe, expect, it } from 'vitest';
import { PodIndex, serviceNameOf, workloadOf, type PodJson } from './pod-index.js';

const CID = (c: string) => c.repeat(64);

function pod(uid: string, name: string, owner?: { kind: string; name: string }, containers: [string, string][] = [], hash?: string): PodJson {
  return {
    metadata: {
      uid, name, namespace: 'shop', resourceVersion: '7',
      labels: hash ? { 'pod-template-hash': hash } : {},
      ownerReferences: owner ? [{ ...owner, controller: true }] : undefined,
    },
    status: { containerStatuses: containers.map(([n, id]) => ({ name: n, containerID: `containerd://${id}` })) },
  };
}

describe('workloadOf', () => {
  it('names the Deployment behind a ReplicaSet, by the pod-template-hash label or its shape', () => {
    expect(workloadOf(pod('u', 'web-7d4b9c8f5-x2k9q', { kind: 'ReplicaSet', name: 'web-7d4b9c8f5' }, [], '7d4b9c8f5'))).toBe('web');
    expect(workloadOf(pod('u', 'api-v2-5f6d7c9b8d-abcde', { kind: 'ReplicaSet', name: 'api-v2-5f6d7c9b8d' }))).toBe('api-v2');
  });

  it('names DaemonSets, StatefulSets and Jobs directly, and no workload for a bare pod', () => {
    expect(workloadOf(pod('u', 'node-agent-x', { kind: 'DaemonSet', name: 'node-agent' }))).toBe('node-agent');
    expect(workloadOf(pod('u', 'db-0', { kind: 'StatefulSet', name: 'db' }))).toBe('db');
    expect(workloadOf(pod('u', 'backup-28712345-q', { kind: 'Job', name: 'backup-28712345' }))).toBe('backup-28712345');
    expect(workloadOf(pod('u', 'debug'))).toBeUndefined();
  });
});

describe('PodIndex', () => {
  it('labels by container id (with the container name), else by pod UID; unknown: nothing', () => {
    const idx = new PodIndex(10);
    idx.replace([pod('uid-1', 'web-abc-x', { kind: 'ReplicaSet', name: 'web-abc' }, [['nginx', CID('a')], ['sidecar', CID('b')]], 'abc')]);
    expect(idx.lookup(undefined, CID('b'))).toEqual({ namespace: 'shop', pod: 'web-abc-x', container: 'sidecar', workload: 'web' });
    expect(idx.lookup('uid-1', CID('f'))).toEqual({ namespace: 'shop', pod: 'web-abc-x', workload: 'web' });
    expect(idx.lookup('uid-2', CID('f'))).toBeUndefined();
    expect(idx.lookup(undefined, undefined)).toBeUndefined();
  });

  it('applies watch events: MODIFIED adds a started container, DELETED forgets the pod and its containers', () => {
    const idx = new PodIndex(10);
    idx.upsert(pod('uid-1', 'db-0', { kind: 'StatefulSet', name: 'db' }));
    expect(idx.lookup(undefined, CID('c'))).toBeUndefined();
    idx.upsert(pod('uid-1', 'db-0', { kind: 'StatefulSet', name: 'db' }, [['postgres', CID('c')]]));
    expect(idx.lookup(undefined, CID('c'))?.container).toBe('postgres');
    idx.remove(pod('uid-1', 'db-0'));
    expect(idx.lookup(undefined, CID('c'))).toBeUndefined();
    expect(idx.lookup('uid-1', undefined)).toBeUndefined();
    expect(idx.stats.pods).toBe(0);
  });

  it('holds at most maxPods and counts what it left out; updates of held pods still apply', () => {
    const idx = new PodIndex(2);
    idx.replace([pod('u1', 'a'), pod('u2', 'b'), pod('u3', 'c')]);
    expect(idx.stats).toEqual({ pods: 2, podsDropped: 1 });
    idx.upsert(pod('u2', 'b', undefined, [['main', CID('d')]]));
    expect(idx.lookup(undefined, CID('d'))?.pod).toBe('b');
    idx.upsert({ metadata: { name: 'no-uid' } });
    expect(idx.stats.pods).toBe(2);
  });
});

describe('serviceNameOf', () => {
  it('is namespace/workload when known, else the process name', () => {
    expect(serviceNameOf({ namespace: 'shop', workload: 'web', process: 'nginx' })).toBe('shop/web');
    expect(serviceNameOf({ namespace: 'shop', pod: 'debug', process: 'sh' })).toBe('sh');
    expect(serviceNameOf({ comm: 'kworker/0:1' })).toBe('kworker/0:1');
  });
});
