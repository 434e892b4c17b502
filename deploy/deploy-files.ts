// Reading the deployment files as their consumers do, for the tests that check them (deploy.test.ts) and run
// the agent the way they would (collector/bpf/privileges.kernel.test.ts): YAML through a real YAML parser
// (PyYAML), system call groups through systemd-analyze.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const deployDir = dirname(fileURLToPath(import.meta.url));
export const unitPath = join(deployDir, 'systemd', 'hotpath.service');
export const daemonSetPath = join(deployDir, 'kubernetes', 'daemonset.yaml');
export const dockerfilePath = join(deployDir, 'Dockerfile');
export const rbacPath = join(deployDir, 'kubernetes', 'rbac.yaml');

/** Every `Key=value` of the unit's [Service] section, in order (a key may repeat). */
export function unitSettings(path = unitPath): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

export function unitValues(key: string, path = unitPath): string[] {
  return unitSettings(path).filter(([k]) => k === key).map(([, v]) => v);
}

/** The system calls of a systemd group (`@system-service`), groups inside it expanded. */
export function expandSyscallGroup(group: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(group)) return out;
  seen.add(group);
  const text = execFileSync('systemd-analyze', ['syscall-filter', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  for (const line of text.split('\n').slice(1)) {
    const t = line.trim();
    if (t.startsWith('@')) for (const n of expandSyscallGroup(t, seen)) out.add(n);
    else if (/^[a-z0-9_]+$/.test(t)) out.add(t);
  }
  return out;
}

/**
 * The system calls the unit's SystemCallFilter= lines allow, as systemd combines them: the first line is an
 * allow list, each later `~` line removes from it and each later plain line adds to it.
 */
export function unitSyscallAllowList(path = unitPath): Set<string> {
  const allowed = new Set<string>();
  const lines = unitValues('SystemCallFilter', path);
  if (lines.length === 0 || lines[0].startsWith('~')) throw new Error(`${path}: SystemCallFilter= must start with an allow list`);
  for (const line of lines) {
    const deny = line.startsWith('~');
    for (const item of (deny ? line.slice(1) : line).split(/\s+/).filter(Boolean)) {
      for (const name of item.startsWith('@') ? expandSyscallGroup(item) : [item]) {
        if (deny) allowed.delete(name);
        else allowed.add(name);
      }
    }
  }
  return allowed;
}

/** Parses a YAML file with PyYAML (every document). */
export function parseYaml(path: string): unknown[] {
  const script = 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' })) as unknown[];
}

export interface ContainerSpec {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext?: {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsUser?: number;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: { type: string; localhostProfile?: string };
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface DaemonSetSpec {
  kind: string;
  spec: {
    template: {
      spec: {
        hostPID?: boolean;
        automountServiceAccountToken?: boolean;
        serviceAccountName?: string;
        securityContext?: { seccompProfile?: { type: string; localhostProfile?: string } };
        containers: ContainerSpec[];
        volumes?: { name: string; hostPath?: { path: string }; emptyDir?: unknown }[];
      };
    };
  };
}

export function daemonSet(): DaemonSetSpec {
  const docs = parseYaml(daemonSetPath) as DaemonSetSpec[];
  const ds = docs.find((d) => d?.kind === 'DaemonSet');
  if (!ds) throw new Error(`${daemonSetPath}: no DaemonSet`);
  return ds;
}

/** The DaemonSet's Localhost seccomp profile file, as shipped beside it (profiles/<name> on the node). */
export function seccompProfilePath(ds = daemonSet()): string {
  const profile = ds.spec.template.spec.securityContext?.seccompProfile;
  if (profile?.type !== 'Localhost' || !profile.localhostProfile) throw new Error('the DaemonSet has no Localhost seccomp profile');
  return join(deployDir, 'kubernetes', profile.localhostProfile.split('/').pop()!);
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls: { names: string[]; action: string }[];
}

export function seccompProfile(path = seccompProfilePath()): SeccompProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as SeccompProfile;
}

/** Capability names without the CAP_ prefix, upper case, sorted: to compare the unit, the DaemonSet and Docker. */
export function normalizeCapabilities(names: string[]): string[] {
  return names.map((n) => n.toUpperCase().replace(/^CAP_/, '')).sort();
}
