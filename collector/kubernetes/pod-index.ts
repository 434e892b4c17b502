// PodIndex: the pods of one node, as the API server's list and watch (or the kubelet's /pods) describe them,
// reduced to what labels a sample: namespace, pod name, container name by container id, and the workload.
// Pure: it takes decoded pod JSON and never does I/O. Bounded by a maximum number of pods.

/** The four sample labels, exactly these names (the Pyroscope pusher reads them too). */
export interface PodLabels {
  namespace: string;
  pod: string;
  container?: string;
  workload?: string;
}

/** The part of a core/v1 Pod this reads (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/). */
export interface PodJson {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
  status?: {
    containerStatuses?: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
    ephemeralContainerStatuses?: ContainerStatusJson[];
  };
}

interface ContainerStatusJson {
  name?: string;
  /** `<runtime>://<id>`, e.g. `containerd://4c7f...`; absent until the container is created. */
  containerID?: string;
}

interface PodEntry {
  namespace: string;
  pod: string;
  workload?: string;
  /** Container id (64 hex) -> container name. */
  containers: Map<string, string>;
}

export interface PodIndexStats {
  /** Pods held now. */
  pods: number;
  /** Pods left out because the index was full. */
  podsDropped: number;
}

const CONTAINER_ID = /^[a-z0-9-]+:\/\/([0-9a-f]{64})$/;

/**
 * The workload that owns a pod, from its controller reference: a ReplicaSet's name less the pod-template-hash
 * suffix is its Deployment's; DaemonSet, StatefulSet, Job and other controllers are named directly. A pod
 * without a controller has no workload.
 */
export function workloadOf(pod: PodJson): string | undefined {
  const refs = pod.metadata?.ownerReferences ?? [];
  const owner = refs.find((r) => r.controller) ?? refs[0];
  if (!owner?.name) return undefined;
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    if (hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
    // Without the label: Deployments name their ReplicaSets `<deployment>-<hash>`, the hash of [b-z2-9] characters.
    const m = /^(.+)-[b-df-hj-np-tv-z2-9]{5,10}$/.exec(owner.name);
    return m ? m[1] : owner.name;
  }
  return owner.name;
}

function entryOf(pod: PodJson): PodEntry | undefined {
  const md = pod.metadata;
  if (!md?.uid || !md.name || !md.namespace) return undefined;
  const containers = new Map<string, string>();
  const st = pod.status ?? {};
  for (const list of [st.containerStatuses, st.initContainerStatuses, st.ephemeralContainerStatuses]) {
    for (const c of list ?? []) {
      const m = c.containerID ? CONTAINER_ID.exec(c.containerID) : null;
      if (m && c.name) containers.set(m[1], c.name);
    }
  }
  return { namespace: md.namespace, pod: md.name, workload: workloadOf(pod), containers };
}

export class PodIndex {
  private readonly byUid = new Map<string, PodEntry>();
  private readonly byContainer = new Map<string, { uid: string; name: string }>();
  private dropped = 0;

  constructor(private readonly maxPods: number) {}

  /** Replaces everything with a full list (the answer of a list or of the kubelet's /pods). */
  replace(pods: readonly PodJson[]): void {
    this.byUid.clear();
    this.byContainer.clear();
    for (const p of pods) this.upsert(p);
  }

  /** Adds or updates one pod (ADDED, MODIFIED). */
  upsert(pod: PodJson): void {
    const entry = entryOf(pod);
    if (!entry) return;
    const uid = pod.metadata!.uid!;
    const old = this.byUid.get(uid);
    if (!old && this.byUid.size >= this.maxPods) {
      this.dropped++;
      return;
    }
    if (old) for (const id of old.containers.keys()) this.byContainer.delete(id);
    this.byUid.set(uid, entry);
    for (const [id, name] of entry.containers) this.byContainer.set(id, { uid, name });
  }

  /** Forgets one pod (DELETED). */
  remove(pod: PodJson): void {
    const uid = pod.metadata?.uid;
    const old = uid ? this.byUid.get(uid) : undefined;
    if (!old) return;
    for (const id of old.containers.keys()) this.byContainer.delete(id);
    this.byUid.delete(uid!);
  }

  /**
   * The labels of a process in the pod `podUid` / container `containerId` (either may be missing): by the
   * container id first, which names the container too, else by the pod UID alone. Undefined when unknown.
   */
  lookup(podUid: string | undefined, containerId: string | undefined): PodLabels | undefined {
    const c = containerId ? this.byContainer.get(containerId) : undefined;
    const entry = this.byUid.get(c?.uid ?? podUid ?? '');
    if (!entry) return undefined;
    const out: PodLabels = { namespace: entry.namespace, pod: entry.pod };
    if (c) out.container = c.name;
    if (entry.workload) out.workload = entry.workload;
    return out;
  }

  get stats(): PodIndexStats {
    return { pods: this.byUid.size, podsDropped: this.dropped };
  }
}

/**
 * The Pyroscope `service_name` of a sample: `namespace/workload` when the workload is known, else the process
 * name (else its comm).
 */
export function serviceNameOf(labels: Readonly<Record<string, string | undefined>>): string | undefined {
  if (labels.namespace && labels.workload) return `${labels.namespace}/${labels.workload}`;
  return labels.process ?? labels.comm;
}
