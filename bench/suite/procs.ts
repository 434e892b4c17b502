// Child processes of the suite, every one tracked so none outlives it: each is started under
// `setpriv --pdeathsig KILL` (killed by the kernel if the suite dies), stopped by its section, and killed by
// `killAll` on the way out whatever happened. Also the /proc readers the sections measure with.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

const exitHandlers = new Set<() => void>();

/**
 * Registers a synchronous undo (restore a sysctl, unmount, remove a directory) for the orchestrator to run if
 * the suite ends early (an error, SIGINT, SIGTERM); returns the function that unregisters it.
 */
export function atExit(fn: () => void): () => void {
  exitHandlers.add(fn);
  return () => exitHandlers.delete(fn);
}

/** Runs every registered undo, newest first, once each; never throws. */
export function runExitHandlers(): void {
  for (const fn of [...exitHandlers].reverse()) {
    exitHandlers.delete(fn);
    try {
      fn();
    } catch {
      // best effort on the way out
    }
  }
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export interface Tracked {
  child: ChildProcess;
  pid: number;
  name: string;
  /** Resolves with the exit code (or the signal's name) once it ended. */
  exited: Promise<number | string>;
  /** stdout and stderr so far, when they were piped and `collect` was asked. */
  output(): { stdout: string; stderr: string };
}

export interface StartOptions {
  stdio?: SpawnOptions['stdio'];
  /** Keep what the child writes on piped stdout/stderr (for `output()`). Default true when piped. */
  collect?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class ProcessGroup {
  private readonly live = new Set<Tracked>();

  /** `cwd`: where children run unless told otherwise (a scratch directory: nothing they write lands elsewhere). */
  constructor(private readonly cwd?: string) {}

  /** Starts `cmd` (an absolute path or a name on PATH) tied to this process's life. */
  start(cmd: string, args: string[], opts: StartOptions = {}): Tracked {
    const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { stdio: opts.stdio ?? 'ignore', cwd: opts.cwd ?? this.cwd, env: opts.env });
    let stdout = '';
    let stderr = '';
    if (opts.collect !== false) {
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-1_000_000)));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-1_000_000)));
    } else {
      // Piped but not wanted: keep reading so a full pipe never blocks the child.
      child.stdout?.resume();
      child.stderr?.resume();
    }
    const t: Tracked = {
      child,
      pid: child.pid ?? -1,
      name: cmd,
      exited: new Promise((resolve) => {
        child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
        child.on('error', (err) => resolve(`error: ${err.message}`));
      }),
      output: () => ({ stdout, stderr }),
    };
    this.live.add(t);
    void t.exited.then(() => this.live.delete(t));
    return t;
  }

  /** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILL. Safe on an exited child. */
  async stop(t: Tracked | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!t || !this.live.has(t)) return;
    try {
      t.child.kill(signal);
    } catch {
      // already gone
    }
    const timeout = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([t.exited, timeout])) === 'timeout') {
      t.child.kill('SIGKILL');
      await t.exited;
    }
  }

  /** SIGKILL to every child still running. Synchronous: usable from an 'exit' handler. */
  killAll(): void {
    for (const t of this.live) {
      try {
        t.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  get running(): number {
    return this.live.size;
  }
}

export interface CommandResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed past `timeoutMs`), tracked by `group` meanwhile. */
export async function runCommand(group: ProcessGroup, cmd: string, args: string[], timeoutMs: number, opts: StartOptions = {}): Promise<CommandResult> {
  const t = group.start(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const timer = setTimeout(() => t.child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await t.exited;
    return { code, ...t.output() };
  } finally {
    clearTimeout(timer);
  }
}

/** Like runCommand, but a non-zero exit is an error naming the command and its stderr's last lines. */
export async function runChecked(group: ProcessGroup, cmd: string, args: string[], timeoutMs: number, opts: StartOptions = {}): Promise<CommandResult> {
  const r = await runCommand(group, cmd, args, timeoutMs, opts);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}${args.length > 4 ? ' ...' : ''}: exit ${r.code}${tail ? `: ${tail}` : ''}`);
  }
  return r;
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of /proc/<pid>/stat times (100 on every Linux here; asked once to be sure). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuTimes {
  /** Seconds of user and system time of all the process's threads. */
  user: number;
  system: number;
  /** Of its waited-for children. */
  childUser: number;
  childSystem: number;
}

/** Parses /proc/<pid>/stat text (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string, ticksPerSecond: number): CpuTimes {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const field = (n: number) => Number(rest[n - 3]) / ticksPerSecond;
  return { user: field(14), system: field(15), childUser: field(16), childSystem: field(17) };
}

export function procCpu(pid: number): CpuTimes {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), clockTicksPerSecond());
}

/** VmRSS and VmHWM (peak) of a process, bytes. */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Seconds of user and system time of `bash -c "...; times"`'s children, from its `times` output. */
export function parseBashTimes(text: string): { user: number; system: number } | undefined {
  const lines = text.trim().split('\n').filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()));
  const last = lines[lines.length - 1];
  if (!last || lines.length < 2) return undefined;
  const secs = (s: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(s)!;
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [u, s] = last.trim().split(' ');
  return { user: secs(u), system: secs(s) };
}

/** True when `cmd` can be run: an absolute path that exists, or a name found on PATH. */
export function haveCommand(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin').split(':')) {
    if (dir && existsSync(`${dir}/${cmd}`)) return true;
  }
  return false;
}
