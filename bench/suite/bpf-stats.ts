// Kernel time per BPF program (kernel.bpf_stats_enabled=1): run_time_ns and run_cnt read from the fdinfo of
// the program fds a process holds, so each tool's programs are told apart by the process that loaded them;
// names come from `bpftool prog show -j`. Also tracefs, which bpftrace's tracepoint probes need.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { atExit } from './procs.js';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

/** Turns bpf_stats on; the returned function puts back what was there (idempotent). */
export function enableBpfStats(): () => void {
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  writeFileSync(STATS_SYSCTL, '1');
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    unregister();
    writeFileSync(STATS_SYSCTL, previous);
  };
  const unregister = atExit(restore);
  return restore;
}

export interface ProgCounters {
  id: number;
  /** BPF_PROG_TYPE_* number (7: perf_event, 5: tracepoint, 17: raw_tracepoint, 26: tracing). */
  type: number;
  runTimeNs: number;
  runCount: number;
}

/** The prog_* fields of one fdinfo text; undefined for an fd that is not a BPF program. */
export function parseProgFdinfo(text: string): ProgCounters | undefined {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  // A bpf_link's fdinfo names its program's id too (with link_type, without prog_type): not a program fd.
  const id = field('prog_id');
  const type = field('prog_type');
  if (id === undefined || type === undefined || /^link_type:/m.test(text)) return undefined;
  return { id, type, runTimeNs: field('run_time_ns') ?? 0, runCount: field('run_cnt') ?? 0 };
}

/** Every BPF program `pid` holds an fd of, by id (an fd dup'ed twice counts once). */
export function programsOf(pid: number): Map<number, ProgCounters> {
  const out = new Map<number, ProgCounters>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const p = parseProgFdinfo(text);
    if (p) out.set(p.id, p);
  }
  return out;
}

/** Program names by id, full names (bpftool reads them from BTF past the kernel's 15 characters). */
export function programNames(): Map<number, string> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 1 << 26 })) as {
    id: number;
    name?: string;
  }[];
  return new Map(list.map((p) => [p.id, p.name ?? `prog ${p.id}`]));
}

/**
 * The hook a program runs on, from its name (hotpath's, libbpf-tools' and bpftrace's names alike; names of
 * programs without BTF are cut to 15 characters by the kernel: "block_rq_comple", "sched_wakeup_ne").
 */
export function hookOf(name: string, type: number): string {
  if (type === 7) return 'cpu sample';
  if (/wakeup_n/.test(name)) return 'sched_wakeup_new';
  if (/wakeup/.test(name)) return 'sched_wakeup';
  if (/switch/.test(name)) return 'sched_switch';
  if (/sys_exit/.test(name)) return 'sys_exit';
  if (/process_f|_free/.test(name)) return 'sched_process_free';
  if (/io_start/.test(name)) return 'block_io_start';
  if (/issue/.test(name)) return 'block_rq_issue';
  if (/compl/.test(name)) return 'block_rq_complete';
  if (/insert/.test(name)) return 'block_rq_insert';
  return name;
}

export interface HookCost {
  /** Sum over the tool's programs on the hook of each one's ns per run: what one event costs the tool. */
  nsPerEvent: number;
  /** Runs of the busiest program on the hook in the interval (the events seen). */
  events: number;
}

/** Per hook, the interval's cost between two snapshots of one tool's programs; also `total` ns of all of them. */
export function costsBetween(
  before: Map<number, ProgCounters>,
  after: Map<number, ProgCounters>,
  names: Map<number, string>,
): { hooks: Map<string, HookCost>; totalNs: number } {
  const hooks = new Map<string, HookCost>();
  let totalNs = 0;
  for (const [id, a] of after) {
    const b = before.get(id);
    const runs = a.runCount - (b?.runCount ?? 0);
    const ns = a.runTimeNs - (b?.runTimeNs ?? 0);
    totalNs += ns;
    if (runs <= 0) continue;
    const hook = hookOf(names.get(id) ?? '', a.type);
    const h = hooks.get(hook) ?? { nsPerEvent: 0, events: 0 };
    h.nsPerEvent += ns / runs;
    h.events = Math.max(h.events, runs);
    hooks.set(hook, h);
  }
  return { hooks, totalNs };
}

const TRACEFS = '/sys/kernel/tracing';

/**
 * Makes sure tracefs is mounted (bpftrace's tracepoint probes read their formats there); returns the unmount
 * to call at the end when this mounted it, a no-op otherwise. Throws when it cannot be mounted.
 */
export function ensureTracefs(): () => void {
  if (existsSync(`${TRACEFS}/events`) || existsSync('/sys/kernel/debug/tracing/events')) return () => {};
  execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: ['ignore', 'ignore', 'pipe'] });
  let done = false;
  const unmount = () => {
    if (done) return;
    done = true;
    unregister();
    try {
      execFileSync('umount', [TRACEFS], { stdio: 'ignore' });
    } catch {
      // busy (a tool still holds it): left mounted, harmless
    }
  };
  const unregister = atExit(unmount);
  return unmount;
}
