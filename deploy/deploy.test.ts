// The deployment files are checked by the real tools that consume them (systemd-analyze, a YAML parser;
// promtool in prometheus/, the Kubernetes schemas in kubernetes/), and against each other: the unit, the
// DaemonSet and the image grant the same capabilities and allow the same system calls. That the agent runs under them is collector/bpf/privileges.kernel.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { authenticates, parseWebConfig } from '../collector/http/web-config.js';
import {
  daemonSet, deployDir, dockerfilePath, normalizeCapabilities, parseYaml, rbacPath, seccompProfile, seccompProfilePath, unitPath,
  unitSyscallAllowList, unitValues,
} from './deploy-files.js';

/** What the agent needs at start, before it drops the rest (README: Privileges). */
const CAPABILITIES = ['BPF', 'CHECKPOINT_RESTORE', 'DAC_READ_SEARCH', 'PERFMON', 'SETPCAP', 'SYSLOG', 'SYS_PTRACE'];

/**
 * System calls `hotpath serve` made under `strace -f` (every program, every route, SIGTERM; Node 20, kernel
 * 6.18), plus openat2 (files of profiled processes) and V8's memory protection keys.
 */
const USED_SYSCALLS = [
  'accept4', 'access', 'arch_prctl', 'bind', 'bpf', 'brk', 'capget', 'capset', 'clone3', 'close', 'dup3', 'epoll_create1',
  'epoll_ctl', 'epoll_pwait', 'eventfd2', 'execve', 'exit', 'exit_group', 'faccessat2', 'fcntl', 'fstat', 'fsync', 'futex',
  'getcwd', 'getdents64', 'getegid', 'geteuid', 'getgid', 'getpid', 'getrandom', 'getsockname', 'gettid', 'getuid', 'ioctl',
  'listen', 'lseek', 'madvise', 'mmap', 'mprotect', 'munmap', 'newfstatat', 'openat', 'openat2', 'perf_event_open', 'pipe2',
  'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'prctl', 'pread64', 'prlimit64', 'read', 'readlink', 'rseq', 'rt_sigaction',
  'rt_sigprocmask', 'rt_sigreturn', 'sched_getaffinity', 'set_robust_list', 'set_tid_address', 'setsockopt', 'shutdown',
  'socket', 'statx', 'sysinfo', 'uname', 'write', 'writev',
];

/** Never needed, and each a step out of a compromised agent: refused by both filters. */
const REFUSED_SYSCALLS = [
  'ptrace', 'process_vm_writev', 'setns', 'unshare', 'mount', 'umount2', 'pivot_root', 'chroot', 'init_module', 'finit_module',
  'delete_module', 'kexec_load', 'kexec_file_load', 'reboot', 'swapon', 'open_by_handle_at', 'io_uring_setup', 'keyctl',
  'add_key', 'setuid', 'setresuid', 'setgroups', 'mknod', 'mknodat', 'userfaultfd', 'iopl', 'ioperm',
];

function mebibytes(size: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(size);
  if (!m) throw new Error(`not a size: ${size}`);
  const unit = { Ki: 1 / 1024, K: 1 / 1024, Mi: 1, M: 1, Gi: 1024, G: 1024 }[m[2] ?? 'Mi']!;
  return Number(m[1]) * unit;
}

describe('deploy/', () => {
  it('the systemd unit and the DaemonSet run the agent on the contract port and probe /healthz', () => {
    const unit = readFileSync(unitPath, 'utf8');
    expect(unit).toMatch(/^ExecStart=.*cli\.js serve .*--port 9464/m);
    const ds = readFileSync(join(deployDir, 'kubernetes', 'daemonset.yaml'), 'utf8');
    expect(ds).toMatch(/hostPID: true/);
    expect(ds).toMatch(/path: \/healthz/);
  });
});

describe('deploy/systemd/hotpath.service', () => {
  it('passes systemd-analyze verify', () => {
    // Prints nothing and exits 0 for a good unit; a warning (unknown key, bad value) goes to stderr.
    const out = execFileSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.trim()).toBe('');
  });

  it('rates OK in systemd-analyze security (overall exposure under 4 of 10)', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', unitPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const exposure = /Overall exposure level for hotpath\.service: ([\d.]+)/.exec(out)?.[1];
    expect(Number(exposure)).toBeLessThan(4);
    // The README states the score: kept true by this test.
    const readme = readFileSync(join(deployDir, '..', 'README.md'), 'utf8');
    expect(/overall exposure \*\*([\d.]+) \(OK\)\*\*/.exec(readme)?.[1]).toBe(exposure);
  });

  it('runs as a transient non-root user with exactly the capabilities the agent needs, CAP_SYS_ADMIN not among them', () => {
    expect(unitValues('DynamicUser')).toEqual(['yes']);
    expect(unitValues('User')).toEqual([]);
    const ambient = unitValues('AmbientCapabilities').join(' ').split(/\s+/);
    const bounding = unitValues('CapabilityBoundingSet').join(' ').split(/\s+/);
    expect(normalizeCapabilities(ambient)).toEqual(CAPABILITIES);
    expect(normalizeCapabilities(bounding)).toEqual(CAPABILITIES);
    expect(unitValues('NoNewPrivileges')).toEqual(['yes']);
  });

  it('closes devices, address families, the file system and the kernel knobs', () => {
    expect(unitValues('DevicePolicy')).toEqual(['closed']);
    expect(unitValues('PrivateDevices')).toEqual(['yes']);
    expect(unitValues('RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX']);
    expect(unitValues('ProtectSystem')).toEqual(['strict']);
    expect(['yes', 'read-only']).toContain(unitValues('ProtectHome')[0]);
    expect(unitValues('SystemCallArchitectures')).toEqual(['native']);
    expect(unitValues('SystemCallErrorNumber')).toEqual(['EPERM']);
    // Settings that would break the agent: see the unit's comments.
    for (const key of ['ProtectKernelLogs', 'MemoryDenyWriteExecute', 'PrivateUsers', 'ProtectProc', 'ProcSubset', 'PrivateNetwork']) {
      expect(unitValues(key), key).toEqual([]);
    }
  });

  it('allows the system calls the agent makes and refuses the ones it never needs', () => {
    const allowed = unitSyscallAllowList();
    expect(USED_SYSCALLS.filter((s) => !allowed.has(s))).toEqual([]);
    expect(REFUSED_SYSCALLS.filter((s) => allowed.has(s))).toEqual([]);
  });

  it('bounds memory above the measured peak (agent budget, BPF maps, table builder), as the DaemonSet does', () => {
    const max = mebibytes(unitValues('MemoryMax')[0]);
    expect(max).toBeGreaterThanOrEqual(343 * 1.25);
    expect(mebibytes(unitValues('MemoryHigh')[0])).toBeLessThan(max);
    const limits = daemonSet().spec.template.spec.containers[0].resources?.limits ?? {};
    expect(mebibytes(limits.memory)).toBe(max);
  });
});

describe('deploy/kubernetes/daemonset.yaml', () => {
  const ds = daemonSet();
  const pod = ds.spec.template.spec;

  it('parses as a DaemonSet in the host pid namespace', () => {
    expect(ds.kind).toBe('DaemonSet');
    expect(pod.hostPID).toBe(true);
    expect(pod.containers.length).toBeGreaterThan(0);
  });

  // --kubernetes needs the API token (pod metadata from the API server); rbac.yaml gives it pods to read, no more.
  it('runs with --kubernetes, its node name from the downward API, and a service account that may only read pods', () => {
    const c = pod.containers[0];
    expect(c.args).toContain('--kubernetes');
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(pod.automountServiceAccountToken).toBe(true);
    type Doc = { kind: string; metadata: { name: string; namespace?: string }; rules?: unknown; roleRef?: { kind: string; name: string }; subjects?: unknown };
    const docs = parseYaml(rbacPath) as Doc[];
    const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
    const [sa] = byKind('ServiceAccount');
    expect(sa.metadata.name).toBe(pod.serviceAccountName);
    expect(sa.metadata.namespace).toBe((ds as unknown as Doc).metadata.namespace);
    const [role] = byKind('ClusterRole');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    const [binding] = byKind('ClusterRoleBinding');
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  });

  it('runs no container privileged: capabilities dropped but for the unit\'s, no escalation, read-only root', () => {
    for (const c of pod.containers) {
      const sc = c.securityContext ?? {};
      expect(sc.privileged ?? false, c.name).toBe(false);
      expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc.capabilities?.drop, c.name).toEqual(['ALL']);
      expect(normalizeCapabilities(sc.capabilities?.add ?? []), c.name).toEqual(CAPABILITIES);
    }
  });

  it('confines it with a Localhost seccomp profile shipped beside it, allowing what the unit allows', () => {
    const profile = seccompProfile();
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64']);
    const names = new Set(profile.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
    expect(USED_SYSCALLS.filter((s) => !names.has(s))).toEqual([]);
    expect(REFUSED_SYSCALLS.filter((s) => names.has(s))).toEqual([]);
    // The same list as the unit's filter, for the system calls x86-64 has (the profile leaves out the unit's
    // names of 32-bit and other architectures' calls).
    const unit = unitSyscallAllowList();
    const x86 = new Set(readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8').match(/(?<=#define __NR_)[a-z0-9_]+/g));
    expect([...names].filter((n) => !unit.has(n))).toEqual([]);
    expect([...unit].filter((n) => x86.has(n) && !names.has(n))).toEqual([]);
    expect(existsSync(seccompProfilePath())).toBe(true);
  });

  it('asks for as much memory as it limits, and probes /healthz with timeouts shorter than the period', () => {
    for (const c of pod.containers) {
      expect(c.resources?.requests?.memory).toBe(c.resources?.limits?.memory);
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
        expect(probe?.httpGet?.path).toBe('/healthz');
        expect(probe?.timeoutSeconds).toBeGreaterThan(0);
        expect(probe!.timeoutSeconds!).toBeLessThan(probe!.periodSeconds!);
      }
      // Restarted only after draining has stalled for minutes, not on one slow answer.
      expect(c.livenessProbe!.periodSeconds! * c.livenessProbe!.failureThreshold!).toBeGreaterThanOrEqual(120);
    }
  });

  it('mounts from the host only kernel BTF, read-only', () => {
    const hostPaths = (pod.volumes ?? []).filter((v) => v.hostPath);
    expect(hostPaths.map((v) => v.hostPath!.path)).toEqual(['/sys/kernel/btf']);
    for (const c of pod.containers) {
      for (const m of c.volumeMounts ?? []) {
        if (hostPaths.some((v) => v.name === m.name)) expect(m.readOnly, m.mountPath).toBe(true);
      }
    }
  });
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(dockerfilePath, 'utf8');

  it('builds on a Node.js LTS image (an even major from 22 on)', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-\S+$/m.exec(text);
    expect(image).not.toBeNull();
    const major = Number(image![1]);
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
    expect(text.match(/^FROM \$\{NODE_IMAGE\}/gm)?.length).toBe(2);
  });

  it('copies the sources after npm ci with the host\'s node_modules, dist and BPF objects kept out of the context', () => {
    expect(text.indexOf('RUN npm ci')).toBeLessThan(text.indexOf('COPY . .'));
    const ignored = readFileSync(join(deployDir, '..', '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '*.bpf.o', 'programs/vmlinux.h']));
  });

  it('documents a docker run with the DaemonSet\'s capabilities and seccomp profile', () => {
    const caps = [...text.matchAll(/--cap-add=([A-Z_]+)/g)].map((m) => m[1]);
    expect(normalizeCapabilities(caps)).toEqual(CAPABILITIES);
    expect(text).toContain('--cap-drop=ALL');
    const seccomp = /--security-opt seccomp=(\S+)/.exec(text)?.[1];
    expect(seccomp && join(deployDir, '..', seccomp)).toBe(seccompProfilePath());
  });
});

describe('deploy/web-config.yml', () => {
  const spec = parseWebConfig(readFileSync(join(deployDir, 'web-config.yml'), 'utf8'));
  const pod = daemonSet().spec.template.spec;
  const container = pod.containers[0];

  it('is a web configuration with TLS and basic authentication, which the DaemonSet and the image use', () => {
    expect(spec.tls).toMatchObject({ certFile: 'tls.crt', keyFile: 'tls.key' });
    expect(authenticates(spec)).toBe(true);
    expect(container.args?.join(' ')).toMatch(/--host 0\.0\.0\.0 .*--web-config \/etc\/hotpath\/web-config\.yml/);
    const mount = container.volumeMounts?.find((m) => m.mountPath === '/etc/hotpath');
    const volume = (pod.volumes as { name: string; secret?: { secretName: string } }[] | undefined)?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('hotpath-web-config');
    expect(readFileSync(dockerfilePath, 'utf8')).toMatch(/^CMD \["serve", "--host", "0\.0\.0\.0", "--web-config", "\/etc\/hotpath\/web-config\.yml"\]$/m);
  });

  it('lets the DaemonSet\'s probes in over HTTPS as its probe user', () => {
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
      const get = probe?.httpGet as { scheme?: string; httpHeaders?: { name: string; value: string }[] } | undefined;
      expect(get?.scheme).toBe('HTTPS');
      const auth = get?.httpHeaders?.find((h) => h.name === 'Authorization')?.value ?? '';
      const [user, password] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      expect(bcrypt.compareSync(password, spec.users.get(user) ?? '')).toBe(true);
    }
  });
});
