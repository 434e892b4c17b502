// Least privilege after attach (issue 10). Loading and attaching needs CAP_BPF + CAP_PERFMON (or root); once
// the programs run, the agent only reads maps through fds it holds and reads other processes' files. So it
// keeps just what that needs, measured on a 6.18 kernel by dropping each capability and trying:
//   CAP_SYS_PTRACE          /proc/<pid>/maps, root, exe, ns/mnt and mem of processes of other users, or of root
//                           processes holding capabilities the agent no longer has: EACCES without it.
//   CAP_DAC_READ_SEARCH     binaries and debug files under directories other users keep private (0700), and the
//                           listing of /proc/<pid>/map_files (0500, owned by the process's user).
//   CAP_CHECKPOINT_RESTORE  opening /proc/<pid>/map_files/* (5.9+; before, only CAP_SYS_ADMIN, never kept: the
//                           collector then opens the path inside /proc/<pid>/root instead).
//   CAP_SYSLOG              only where /proc/kallsyms hides addresses from other readers (kptr_restrict=1, or
//                           0 with perf_event_paranoid > 1): probed.
//   CAP_BPF                 only where bpf() checks it on every call, map reads on held fds included (kernels
//                           before 5.19 with unprivileged_bpf_disabled): probed. From 5.19 map lookups, updates,
//                           batches and BPF_OBJ_GET_INFO_BY_FD on held fds need no capability.
//   CAP_NET_BIND_SERVICE    only when the HTTP port, bound after the drop, is a privileged one.
// Everything else goes from the effective, permitted, inheritable and ambient sets and from the bounding set
// (which needs CAP_SETPCAP: without it the bounding set stays as launched), and no_new_privs is set, so no
// execve can gain privileges back. Not kept: CAP_PERFMON (perf events stay open), CAP_SYS_RESOURCE (maps are
// charged to the memory cgroup from 5.11), CAP_SYS_ADMIN, CAP_DAC_OVERRIDE and the rest.
//
// The kernel keeps credentials per thread. The main thread (every privileged open and map access) and the
// libuv pool threads (asynchronous file system calls) are reduced; threads started later (the unwind table
// worker, restarted when idle) inherit the reduced sets. Threads that run no JavaScript (V8's platform workers,
// Node's signal and inspector threads) cannot be reached from here and keep the launch sets, as does a worker
// thread started before the drop until it ends: launch with exactly the capabilities needed (deploy/) so they
// hold no more than that.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { ErrorCodes, HotpathError } from '../errors.js';
import {
  bpfFdAccessErrno,
  clearAmbientCapabilities,
  dropBoundingCapability,
  getCapabilities,
  setCapabilities,
  setCapabilitiesOnPoolThread,
  setNoNewPrivs,
  setNoNewPrivsOnPoolThread,
  sleepOnPoolThread,
  type CapabilitySets,
} from './libbpf.js';

/** Capability numbers (include/uapi/linux/capability.h) hotpath reasons about. */
export const Cap = {
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  SETPCAP: 8,
  NET_BIND_SERVICE: 10,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  SYSLOG: 34,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const;

const NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

export function bit(cap: number): bigint {
  return 1n << BigInt(cap);
}

/** `CAP_SYS_PTRACE` for 19; `CAP_63` for a number this list does not know. */
export function capabilityName(cap: number): string {
  return `CAP_${NAMES[cap] ?? cap}`;
}

/** The names of the capabilities in a mask, lowest number first. */
export function capabilityNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let cap = 0; mask >> BigInt(cap) !== 0n; cap++) if (mask & bit(cap)) out.push(capabilityName(cap));
  return out;
}

/** The thread's sets as /proc/<pid>/status (or task/<tid>/status) shows them. Absent fields read as 0. */
export function parseStatusCapabilities(status: string): { effective: bigint; permitted: bigint; bounding: bigint; ambient: bigint; noNewPrivs: boolean } {
  const hex = (field: string) => {
    const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  return {
    effective: hex('CapEff'),
    permitted: hex('CapPrm'),
    bounding: hex('CapBnd'),
    ambient: hex('CapAmb'),
    noNewPrivs: /^NoNewPrivs:\s*1$/m.test(status),
  };
}

/** What the probes found about this kernel and configuration. */
export interface SteadyStateProbes {
  /** bpf() refuses map operations on held fds without CAP_BPF. */
  bpfFdOpsNeedCapability: boolean;
  /** /proc/kallsyms shows real addresses only to a reader holding CAP_SYSLOG. */
  kallsymsNeedsSyslog: boolean;
  /** The HTTP port, bound after the drop, is below net.ipv4.ip_unprivileged_port_start. */
  listenNeedsBindService: boolean;
}

/** Why each capability stays after attach (README and --help say the same). */
export const STEADY_STATE_REASONS: Readonly<Record<number, string>> = {
  [Cap.SYS_PTRACE]: "read other users' (and more privileged root) processes' /proc/<pid>/maps, root, exe and mem",
  [Cap.DAC_READ_SEARCH]: "read binaries, debug files and perf maps in other users' private directories; list map_files",
  [Cap.CHECKPOINT_RESTORE]: 'open /proc/<pid>/map_files/* (the exact mapped file, deleted or in another mount namespace)',
  [Cap.SYSLOG]: 'read kernel symbol addresses from /proc/kallsyms (kernel.kptr_restrict)',
  [Cap.BPF]: 'read the maps: this kernel checks CAP_BPF on every bpf() call (kernel.unprivileged_bpf_disabled)',
  [Cap.NET_BIND_SERVICE]: 'bind the privileged --port after the drop',
};

/** The capabilities kept after attach, given the probes; never one the process does not hold (`permitted`). */
export function steadyStateCapabilities(probes: SteadyStateProbes, permitted: bigint): bigint {
  let keep = bit(Cap.SYS_PTRACE) | bit(Cap.DAC_READ_SEARCH) | bit(Cap.CHECKPOINT_RESTORE);
  if (probes.kallsymsNeedsSyslog) keep |= bit(Cap.SYSLOG);
  if (probes.bpfFdOpsNeedCapability) keep |= bit(Cap.BPF);
  if (probes.listenNeedsBindService) keep |= bit(Cap.NET_BIND_SERVICE);
  return keep & permitted;
}

export interface DropPrivilegesOptions {
  /** The TCP port the HTTP server binds after the drop (0: any, which needs nothing). */
  listenPort?: number;
  /** procfs mount point (default /proc). */
  procRoot?: string;
}

export interface PrivilegeReport {
  /** Capabilities left in the main thread's effective and permitted sets. */
  kept: string[];
  keptMask: bigint;
  /** The main thread's bounding set afterwards (equal to keptMask unless CAP_SETPCAP was missing). */
  bounding: bigint;
  probes: SteadyStateProbes;
  /** Threads of the process, and how many hold no more than `kept`. */
  threads: { total: number; reduced: number };
  /** One line for the log. */
  summary: string;
}

const EPERM = 1;

/**
 * Drops every capability the running agent does not need (see the top of this file): effective, permitted,
 * inheritable, ambient and bounding sets, then no_new_privs, on the main thread and the libuv pool threads.
 * Call once, after every program is loaded and attached. Throws HotpathError (HP_ERR_PRIVILEGE) when the
 * sets cannot be changed or do not read back as asked.
 */
export async function dropPrivileges(opts: DropPrivilegesOptions = {}): Promise<PrivilegeReport> {
  const procRoot = opts.procRoot ?? '/proc';
  const start = getCapabilities();
  const probes = probeSteadyState(start, procRoot, opts.listenPort ?? 0);
  const keep = steadyStateCapabilities(probes, start.permitted);

  // The bounding set first: dropping from it needs CAP_SETPCAP in the effective set, which goes next.
  const lastCap = readNumber(`${procRoot}/sys/kernel/cap_last_cap`) ?? NAMES.length - 1;
  for (let cap = 0; cap <= lastCap; cap++) {
    if (keep & bit(cap)) continue;
    if (dropBoundingCapability(cap) === EPERM) break; // no CAP_SETPCAP: the bounding set stays as launched
  }
  clearAmbientCapabilities(); // EINVAL before 4.3, where there is no ambient set
  const sets: CapabilitySets = { effective: keep, permitted: keep, inheritable: 0n };
  setCapabilities(sets);
  setNoNewPrivs();
  const after = getCapabilities();
  if (after.effective !== keep || after.permitted !== keep || after.inheritable !== 0n) {
    throw new HotpathError(ErrorCodes.PRIVILEGE, `capset: kept ${capabilityNames(after.permitted).join(',')} instead of ${capabilityNames(keep).join(',')}`);
  }
  await reducePoolThreads(sets, procRoot);

  const own = parseStatusCapabilities(readFileSync(`${procRoot}/thread-self/status`, 'utf8'));
  const threads = threadCensus(keep, procRoot);
  const kept = capabilityNames(keep);
  const boundingNote = own.bounding === keep ? 'bounding set trimmed' : 'bounding set left as launched: no CAP_SETPCAP';
  const threadNote =
    threads.reduced === threads.total
      ? `all ${threads.total} threads`
      : `${threads.reduced} of ${threads.total} threads; the other ${threads.total - threads.reduced} (V8's and Node's own, workers started before) keep the launch set`;
  return {
    kept,
    keptMask: keep,
    bounding: own.bounding,
    probes,
    threads,
    summary: `capabilities after attach: ${kept.join(', ') || 'none'} (${boundingNote}; no_new_privs; ${threadNote})`,
  };
}

/** Measures, by lowering the effective set for a moment, which conditional capabilities this kernel needs. */
function probeSteadyState(start: CapabilitySets, procRoot: string, listenPort: number): SteadyStateProbes {
  const lowered = (mask: bigint) => setCapabilities({ ...start, effective: start.effective & ~mask });
  try {
    lowered(bit(Cap.BPF) | bit(Cap.SYS_ADMIN));
    const bpfFdOpsNeedCapability = bpfFdAccessErrno() === EPERM;
    lowered(bit(Cap.SYSLOG));
    const hiddenWithout = !kallsymsShowsAddresses(procRoot);
    setCapabilities(start);
    const kallsymsNeedsSyslog = hiddenWithout && kallsymsShowsAddresses(procRoot);
    const unprivilegedPortStart = readNumber(`${procRoot}/sys/net/ipv4/ip_unprivileged_port_start`) ?? 1024;
    return { bpfFdOpsNeedCapability, kallsymsNeedsSyslog, listenNeedsBindService: listenPort > 0 && listenPort < unprivilegedPortStart };
  } finally {
    setCapabilities(start);
  }
}

/** Whether /proc/kallsyms, opened now (the kernel checks the opener's credentials), shows any address. */
function kallsymsShowsAddresses(procRoot: string): boolean {
  let fd = -1;
  try {
    fd = openSync(`${procRoot}/kallsyms`, 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /^0*[1-9a-f][0-9a-f]* /m.test(buf.subarray(0, n).toString('latin1'));
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Reduces the libuv pool threads: capset and no_new_privs run on whichever pool thread picks them up. Short
 * sleeps between them keep each thread that took one busy for a moment, so the others take the next ones
 * (else the first thread to wake runs them all). Rounds run until the census has not improved for three.
 */
async function reducePoolThreads(sets: CapabilitySets, procRoot: string): Promise<void> {
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  let best = threadCensus(sets.permitted, procRoot).reduced;
  for (let round = 0, idle = 0; round < 12 && idle < 3; round++) {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 2 * poolSize; i++) calls.push(setCapabilitiesOnPoolThread(sets), setNoNewPrivsOnPoolThread(), sleepOnPoolThread(2000));
    await Promise.all(calls);
    const now = threadCensus(sets.permitted, procRoot);
    if (now.reduced === now.total) return;
    idle = now.reduced > best ? 0 : idle + 1;
    best = Math.max(best, now.reduced);
  }
}

/** Threads of this process, and those holding no capability outside `keep` with no_new_privs set. */
function threadCensus(keep: bigint, procRoot: string): { total: number; reduced: number } {
  let total = 0;
  let reduced = 0;
  for (const tid of readdirSync(`${procRoot}/self/task`)) {
    let status: string;
    try {
      status = readFileSync(`${procRoot}/self/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    total++;
    const s = parseStatusCapabilities(status);
    if ((s.permitted & ~keep) === 0n && (s.effective & ~keep) === 0n && s.noNewPrivs) reduced++;
  }
  return { total, reduced };
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
