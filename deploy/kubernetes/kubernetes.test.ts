// deploy/kubernetes/*.yaml checked against the Kubernetes API schemas (kubernetes-models) and for unknown
// fields (TypeScript over the same package's types): every document of every manifest, and broken copies
// that must fail. kubectl apply --dry-run=client needs an API server even with --validate=false (it maps
// kinds through discovery), so it is not run here: README, Deploying.
import { describe, expect, it } from 'vitest';
import { daemonSet } from '../deploy-files.js';
import { kubernetesManifests, schemaErrors, unknownFieldErrors, type Manifest } from './manifests.js';

const manifests = kubernetesManifests();
const named = (m: Manifest): string => `${m.file}#${m.index} ${m.doc.kind}/${m.doc.metadata?.name ?? ''}`;

function brokenDaemonSet(change: (container: Record<string, any>) => void): Manifest['doc'] {
  const doc = structuredClone(manifests.find((m) => m.doc.kind === 'DaemonSet')!.doc) as any;
  change(doc.spec.template.spec.containers[0]);
  return doc;
}

describe('deploy/kubernetes/', () => {
  it('holds the DaemonSet, its NetworkPolicy and PodMonitor', () => {
    expect(manifests.map((m) => m.doc.kind)).toEqual(expect.arrayContaining(['DaemonSet', 'NetworkPolicy', 'PodMonitor']));
  });

  it.each(manifests.map((m) => [named(m), m] as const))('%s validates against its schema', async (_, m) => {
    expect(await schemaErrors(m.doc)).toEqual([]);
  });

  it('no document has a field its kind does not define', () => {
    const errors = unknownFieldErrors(manifests.map((m) => m.doc));
    expect(Object.fromEntries(manifests.map((m, i) => [named(m), errors[i]]))).toEqual(Object.fromEntries(manifests.map((m) => [named(m), []])));
  });

  it('a wrong type, a bad enum value, a missing required field or an unknown kind fail the schema check', async () => {
    expect((await schemaErrors(brokenDaemonSet((c) => (c.securityContext.privileged = 'yes')))).join()).toMatch(/privileged must be boolean/);
    expect((await schemaErrors(brokenDaemonSet((c) => (c.imagePullPolicy = 'Sometimes')))).join()).toMatch(/imagePullPolicy must be equal to one of the allowed values/);
    expect((await schemaErrors(brokenDaemonSet((c) => delete c.name))).join()).toMatch(/containers\/0 must have required property name/);
    expect((await schemaErrors({ apiVersion: 'apps/v1', kind: 'DaemonSett' })).join()).toMatch(/no schema for apps\/v1 DaemonSett/);
  });

  it('an unknown field fails, deep in the pod template or at the top', () => {
    const misspelt = brokenDaemonSet((c) => (c.securityContext.privilegd = false));
    const extra = { ...brokenDaemonSet(() => {}), extra: 1 };
    const [clean, deep, top] = unknownFieldErrors([brokenDaemonSet(() => {}), misspelt, extra]);
    expect(clean).toEqual([]);
    expect(deep.join()).toMatch(/'"privilegd"' does not exist in type 'ISecurityContext'/);
    expect(top.join()).toMatch(/'"extra"' does not exist in type 'IDaemonSet'/);
  });
});

describe('deploy/kubernetes/networkpolicy.yaml', () => {
  const policy = manifests.find((m) => m.doc.kind === 'NetworkPolicy')!.doc as any;
  const ds = daemonSet() as any;

  it('applies to the DaemonSet\'s pods in its namespace, both ways', () => {
    expect(policy.metadata.namespace).toBe(ds.metadata.namespace);
    expect(ds.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('lets in the metrics port only, from Prometheus pods of the monitoring namespace', () => {
    const port = ds.spec.template.spec.containers[0].ports[0].containerPort;
    expect(policy.spec.ingress).toHaveLength(1);
    expect(policy.spec.ingress[0].ports).toEqual([{ protocol: 'TCP', port }]);
    for (const from of policy.spec.ingress[0].from) {
      expect(from.namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
      expect(from.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'prometheus' });
    }
  });

  it('lets out DNS to kube-dns and the API server\'s ports, nothing else', () => {
    const ports = policy.spec.egress.flatMap((rule: any) => rule.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort();
    expect(ports).toEqual(['TCP/443', 'TCP/53', 'TCP/6443', 'UDP/53']);
    const dns = policy.spec.egress.find((rule: any) => rule.ports.some((p: any) => p.port === 53));
    expect(dns.to).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
  });
});

describe('deploy/kubernetes/podmonitor.yaml', () => {
  const monitor = manifests.find((m) => m.doc.kind === 'PodMonitor')!.doc as any;
  const ds = daemonSet() as any;

  it('scrapes the DaemonSet\'s named port over HTTPS with basic auth, as the web config asks', () => {
    expect(ds.spec.template.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    const endpoint = monitor.spec.podMetricsEndpoints[0];
    expect(ds.spec.template.spec.containers[0].ports.map((p: any) => p.name)).toContain(endpoint.port);
    expect(endpoint.scheme).toBe('https');
    expect(endpoint.basicAuth.username).toBeDefined();
  });
});
