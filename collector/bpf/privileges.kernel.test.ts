// Least privilege after attach (issue 10), on a real kernel: the agent ends with exactly the capabilities its
// steady state needs, and with them still profiles a process of another user, started after the drop from a
// directory only that user may read, compiled without frame pointers (so its stacks are deep only if the
// unwind tables were built from its files and written to the kernel maps after the drop), on and off CPU.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, compileWorkload, requireRoot, startAgent, tempDir, type RunningAgent } from '../test-support/kernel.js';
import { daemonSet, seccompProfile, unitSyscallAllowList, unitValues } from '../../deploy/deploy-files.js';
import { bit, Cap, capabilityName, capabilityNames, parseStatusCapabilities } from './privileges.js';

// Spins 17 calls deep; a second thread blocks in usleep 13 calls deep. `sink++` after each call keeps the
// recursion from becoming a loop.
const DEEP_SOURCE = `
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
volatile uint64_t sink;
__attribute__((noinline)) void priv_spin_leaf(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
__attribute__((noinline)) void priv_spin_deep(int n) { if (n == 0) priv_spin_leaf(); else priv_spin_deep(n - 1); sink++; }
__attribute__((noinline)) void priv_block_leaf(void) { usleep(20000); }
__attribute__((noinline)) void priv_block_deep(int n) { if (n == 0) priv_block_leaf(); else priv_block_deep(n - 1); sink++; }
static void *blocker(void *arg) { for (;;) priv_block_deep(12); return arg; }
int main(void) { pthread_t t; pthread_create(&t, 0, blocker, 0); for (;;) priv_spin_deep(16); }
`;

const WORKLOAD_UID = 4242;
const AGENT_UID = 65534;

function sysctl(name: string): number {
  return Number(readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim());
}

/**
 * What the agent must keep, worked out here from the kernel's documented rules rather than by the agent's
 * probes: CAP_SYSLOG where kallsyms hides addresses from readers without it, CAP_BPF where bpf() checks it
 * on every call (before 5.19 with unprivileged BPF disabled).
 */
function expectedCapabilities(): bigint {
  let caps = bit(Cap.SYS_PTRACE) | bit(Cap.DAC_READ_SEARCH) | bit(Cap.CHECKPOINT_RESTORE);
  const kptr = sysctl('kernel.kptr_restrict');
  if (kptr === 1 || (kptr === 0 && sysctl('kernel.perf_event_paranoid') > 1)) caps |= bit(Cap.SYSLOG);
  const [major, minor] = release().split('.').map(Number);
  if ((major < 5 || (major === 5 && minor < 19)) && sysctl('kernel.unprivileged_bpf_disabled') !== 0) caps |= bit(Cap.BPF);
  return caps;
}

/** The workload, copied into a directory only `uid` may enter, run as `uid`. */
function startPrivateWorkload(dir: string, uid: number): ChildProcess {
  const built = compileWorkload(dir, 'deep', DEEP_SOURCE, ['-fomit-frame-pointer', '-pthread']);
  chmodSync(dir, 0o755);
  const own = join(dir, 'private');
  mkdirSync(own);
  const bin = join(own, 'priv-deep');
  copyFileSync(built, bin);
  chownSync(own, uid, uid);
  chownSync(bin, uid, uid);
  chmodSync(bin, 0o700);
  chmodSync(own, 0o700);
  return spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', bin], { stdio: 'ignore' });
}

/**
 * Loads a seccomp filter the way container runtimes and systemd do (libseccomp: refuse with `errno` but the
 * allowed names, names this architecture lacks skipped; no_new_privs), then executes the rest of the command line.
 */
const SECCOMP_LOADER = `
import ctypes, json, os, sys
lib = ctypes.CDLL('libseccomp.so.2')
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
spec = json.load(open(sys.argv[1]))
ctx = lib.seccomp_init(0x00050000 | spec['errno'])
for name in spec['allow']:
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr != -1 and lib.seccomp_rule_add(ctx, 0x7fff0000, nr, 0) != 0:
        sys.exit('seccomp_rule_add ' + name)
if lib.seccomp_load(ctx) != 0:
    sys.exit('seccomp_load failed')
os.execv(sys.argv[2], sys.argv[2:])
`;

function writeFilter(dir: string, allow: string[], errno: number): string {
  const file = join(dir, 'filter.json');
  writeFileSync(file, JSON.stringify({ errno, allow }));
  return file;
}

function errnoNumber(name: string): number {
  const n = ({ EPERM: 1, EACCES: 13, ENOSYS: 38 } as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown errno name ${name}`);
  return n;
}

function capabilityNumber(name: string): number {
  for (let cap = 0; cap < 64; cap++) if (capabilityName(cap) === name) return cap;
  throw new Error(`unknown capability ${name}`);
}

/** `hotpath serve` launched through `prefix` (setpriv, the seccomp loader) as systemd or a container runtime would; resolves once it listens. */
function startAgentThrough(prefix: string[], args: string[]): Promise<RunningAgent> {
  return new Promise((resolve, reject) => {
    const child = spawn(prefix[0], [...prefix.slice(1), process.execPath, cliPath, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hotpath serve did not start\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hotpath serve exited with ${code}\n${stderr}`));
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (!m) return;
      clearTimeout(timer);
      const url = `http://127.0.0.1:${m[1]}`;
      resolve({
        port: Number(m[1]), url, child, stderr: () => stderr,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done(child.exitCode);
          child.once('exit', (code) => done(code));
          child.kill('SIGTERM');
        }),
      });
    });
  });
}

async function fetchProfile(agent: RunningAgent, route: string): Promise<Profile> {
  const res = await request(`${agent.url}${route}`);
  const body = Buffer.from(await res.body.arrayBuffer());
  expect(res.statusCode, body.toString()).toBe(200);
  return Profile.decode(gunzipSync(body));
}

/** Each sample's function names, leaf first, with its first value. */
function stacksOf(p: Profile): { names: string[]; value: number }[] {
  const s = p.stringTable.strings;
  const fn = new Map(p.function.map((f) => [Number(f.id), s[Number(f.name)]]));
  const loc = new Map(p.location.map((l) => [Number(l.id), l.line.map((ln) => fn.get(Number(ln.functionId)) ?? '')]));
  return p.sample.map((x) => ({ names: x.locationId.flatMap((id) => loc.get(Number(id)) ?? ['?']), value: Number(x.value[0]) }));
}

function count(names: string[], name: string): number {
  return names.filter((n) => n === name).length;
}

function statusOf(pid: number) {
  return parseStatusCapabilities(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

describe('least privilege after attach (kernel)', () => {
  const workloads: ChildProcess[] = [];
  const agents: RunningAgent[] = [];

  beforeAll(() => requireRoot());

  afterAll(async () => {
    for (const w of workloads) w.kill('SIGKILL');
    for (const a of agents) await a.stop();
  });

  async function checkProfilesOfNewWorkload(agent: RunningAgent): Promise<void> {
    const workload = startPrivateWorkload(tempDir('hotpath-priv-'), WORKLOAD_UID);
    workloads.push(workload);
    // Its tables are built when its first samples are drained (--window 1s): give it a few windows.
    await new Promise((r) => setTimeout(r, 3000));
    const cpu = stacksOf(await fetchProfile(agent, `/debug/pprof/profile?seconds=3&pid=${workload.pid}`));
    const spinning = cpu.filter((x) => x.names[0] === 'priv_spin_leaf');
    expect(spinning.length, 'the leaf is named: the binary in the private directory was read').toBeGreaterThan(0);
    const deepest = Math.max(...spinning.map((x) => count(x.names, 'priv_spin_deep')));
    expect(deepest, 'all 17 recursive frames: unwound by the tables built after the drop').toBe(17);
    expect(spinning.some((x) => x.names.includes('main'))).toBe(true);

    const off = stacksOf(await fetchProfile(agent, `/debug/pprof/offcpu?seconds=3&pid=${workload.pid}`));
    const blocked = off.filter((x) => x.names.includes('priv_block_leaf'));
    expect(blocked.length, 'the off-CPU profile names the blocked thread').toBeGreaterThan(0);
    expect(Math.max(...blocked.map((x) => count(x.names, 'priv_block_deep')))).toBe(13);
  }

  it('as root: keeps exactly the capabilities it needs, in every set, and still profiles a new process of another user', async () => {
    const agent = await startAgent(['--programs', 'cpu,offcpu', '--window', '1s']);
    agents.push(agent);
    const expected = expectedCapabilities();
    const s = statusOf(agent.child.pid!);
    expect(capabilityNames(s.effective)).toEqual(capabilityNames(expected));
    expect(capabilityNames(s.permitted)).toEqual(capabilityNames(expected));
    expect(capabilityNames(s.bounding)).toEqual(capabilityNames(expected));
    expect(s.ambient).toBe(0n);
    expect(s.noNewPrivs).toBe(true);
    expect(agent.stderr()).toContain(`capabilities after attach: ${capabilityNames(expected).join(', ')} (bounding set trimmed; no_new_privs`);
    // The libuv pool threads were reduced too: at least main + the pool.
    const threads = /no_new_privs; (?:all (\d+) threads|(\d+) of \d+ threads)/.exec(agent.stderr());
    expect(Number(threads?.[1] ?? threads?.[2])).toBeGreaterThanOrEqual(5);

    await checkProfilesOfNewWorkload(agent);
    // Still exactly the same after profiling (nothing raised them back).
    expect(statusOf(agent.child.pid!).effective).toBe(expected);
    expect(await agent.stop()).toBe(0);
    agents.pop();
  });

  /** The capabilities every thread of `pid` may hold at most: the launch set. */
  function expectThreadsWithin(pid: number, launch: string[]): void {
    const mask = launch.reduce((m, name) => m | bit(capabilityNumber(name)), 0n);
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const t = parseStatusCapabilities(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      expect(capabilityNames(t.permitted & ~mask), `thread ${tid}`).toEqual([]);
    }
  }

  async function checkLaunchedAgent(agent: RunningAgent, launch: string[], uid: number): Promise<void> {
    agents.push(agent);
    const pid = agent.child.pid!;
    const expected = expectedCapabilities();
    const s = statusOf(pid);
    expect(capabilityNames(s.effective)).toEqual(capabilityNames(expected));
    expect(capabilityNames(s.permitted)).toEqual(capabilityNames(expected));
    expect(capabilityNames(s.bounding)).toEqual(capabilityNames(expected));
    expect(s.noNewPrivs).toBe(true);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Seccomp:\s+2$/m);
    expectThreadsWithin(pid, launch);
    await checkProfilesOfNewWorkload(agent);
    expect(await agent.stop()).toBe(0);
    agents.pop();
  }

  it("as deploy/systemd/hotpath.service runs it: a non-root user, the unit's capabilities and system call filter", async () => {
    const caps = unitValues('AmbientCapabilities').join(' ').split(/\s+/).filter(Boolean);
    const setpriv = caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
    const filter = writeFilter(tempDir('hotpath-unit-'), [...unitSyscallAllowList()], errnoNumber(unitValues('SystemCallErrorNumber')[0]));
    const agent = await startAgentThrough(
      [
        'setpriv', `--reuid=${AGENT_UID}`, `--regid=${AGENT_UID}`, '--clear-groups', `--inh-caps=-all,${setpriv}`, `--ambient-caps=${setpriv}`,
        `--bounding-set=-all,${setpriv}`, '--no-new-privs', '/usr/bin/python3', '-c', SECCOMP_LOADER, filter,
      ],
      ['--programs', 'cpu,offcpu', '--window', '1s'],
    );
    await checkLaunchedAgent(agent, caps, AGENT_UID);
  });

  it("as deploy/kubernetes/daemonset.yaml runs it: root, the container's capabilities and seccomp profile", async () => {
    const container = daemonSet().spec.template.spec.containers[0];
    const caps = container.securityContext?.capabilities?.add ?? [];
    const setpriv = caps.map((c) => `+${c.toLowerCase()}`).join(',');
    const profile = seccompProfile();
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allow = profile.syscalls.filter((x) => x.action === 'SCMP_ACT_ALLOW').flatMap((x) => x.names);
    const filter = writeFilter(tempDir('hotpath-ds-'), allow, profile.defaultErrnoRet ?? 1);
    // As runc does with allowPrivilegeEscalation: false: bounding set, no_new_privs, then the filter, then exec.
    const agent = await startAgentThrough(
      ['setpriv', '--inh-caps=-all', `--bounding-set=-all,${setpriv}`, '--no-new-privs', '/usr/bin/python3', '-c', SECCOMP_LOADER, filter],
      ['--programs', 'cpu,offcpu', '--window', '1s'],
    );
    await checkLaunchedAgent(agent, caps.map((c) => `CAP_${c}`), 0);
  });
});
