// --kubernetes and its companions of `serve`: help lines, option declarations, parser.
import { existsSync } from 'node:fs';
import type { PodSourceOptions } from '../kubernetes/pod-source.js';
import { usageError } from '../errors.js';
import { parseChoice } from './flags.js';

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export const KUBERNETES_HELP = `  --kubernetes         label samples with the namespace, pod, container and workload (Deployment, DaemonSet,
                       StatefulSet, Job) of their container, from this node's pods: listed and watched on
                       the API server with the pod's service account (get/list/watch pods), held in memory
                       (at most 1000 pods). Until known, or for processes outside pods: no extra labels
  --kubernetes-node NAME
                       this node's name (default: the NODE_NAME environment variable, which the DaemonSet
                       sets from spec.nodeName); also the k8s.node.name of --otlp-endpoint's resource
  --kubernetes-source api|kubelet
                       api (default): watch pods with spec.nodeName=NAME on the API server; kubelet: read
                       https://NAME:10250/pods every 15 s (needs nodes/proxy permission instead)
  --kubernetes-api URL the API server (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT) or the
                       kubelet (default https://NAME:10250)
  --kubernetes-token-file FILE
                       bearer token (default ${SERVICE_ACCOUNT}/token when it exists)
  --kubernetes-ca-file FILE
                       CA of an https URL (default ${SERVICE_ACCOUNT}/ca.crt when it exists)
`;

export const KUBERNETES_OPTIONS = {
  kubernetes: { type: 'boolean', default: false },
  'kubernetes-node': { type: 'string' },
  'kubernetes-source': { type: 'string', default: 'api' },
  'kubernetes-api': { type: 'string' },
  'kubernetes-token-file': { type: 'string' },
  'kubernetes-ca-file': { type: 'string' },
} as const;

/** The node name from --kubernetes-node or NODE_NAME; undefined when neither is set. */
export function kubernetesNodeName(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = (values['kubernetes-node'] as string | undefined) ?? env.NODE_NAME;
  if (name === undefined || name === '') return undefined;
  // A DNS subdomain (RFC 1123), as node names are: it goes into a field selector and a URL.
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw usageError(`invalid value for --kubernetes-node: "${name}" (not a node name)`);
  return name;
}

/** The pod source for --kubernetes, or undefined without it. Throws usage errors (exit 2). */
export function parseKubernetesFlags(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Omit<PodSourceOptions, 'log'> | undefined {
  const others = ['kubernetes-source', 'kubernetes-api', 'kubernetes-token-file', 'kubernetes-ca-file'].filter(
    (k) => values[k] !== undefined && !(k === 'kubernetes-source' && values[k] === 'api'),
  );
  if (!values.kubernetes) {
    if (others.length > 0) throw usageError(`--${others[0]} needs --kubernetes`);
    return undefined;
  }
  const kind = parseChoice('--kubernetes-source', values['kubernetes-source'] as string, ['api', 'kubelet'] as const);
  const nodeName = kubernetesNodeName(values, env);
  if (!nodeName) throw usageError('--kubernetes needs the node name: --kubernetes-node NAME or the NODE_NAME environment variable');
  let baseUrl = values['kubernetes-api'] as string | undefined;
  if (baseUrl === undefined) {
    if (kind === 'kubelet') baseUrl = `https://${nodeName}:10250`;
    else {
      const host = env.KUBERNETES_SERVICE_HOST;
      if (!host) throw usageError('--kubernetes: not in a pod (KUBERNETES_SERVICE_HOST is not set): give --kubernetes-api URL');
      baseUrl = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT || '443'}`;
    }
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw usageError(`invalid value for --kubernetes-api: "${baseUrl}" (expected a URL such as https://10.96.0.1:443)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`invalid value for --kubernetes-api: "${baseUrl}" (http or https only)`);
  const fileFlag = (flag: string, fallback: string): string | undefined => {
    const given = values[flag] as string | undefined;
    if (given !== undefined) {
      if (!existsSync(given)) throw usageError(`--${flag} ${given}: no such file`);
      return given;
    }
    return existsSync(fallback) ? fallback : undefined;
  };
  const tokenFile = fileFlag('kubernetes-token-file', `${SERVICE_ACCOUNT}/token`);
  const caFile = url.protocol === 'https:' ? fileFlag('kubernetes-ca-file', `${SERVICE_ACCOUNT}/ca.crt`) : undefined;
  return { kind, nodeName, baseUrl: url.toString(), tokenFile, caFile };
}
