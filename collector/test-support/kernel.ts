// Helpers for kernel tests: they load real programs and profile real workloads, so they need root.
// They never skip: without root (or in CI) a kernel test fails with the reason.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SERVE_NODE_FLAGS } from '../cli/node-flags.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(repoRoot, 'dist', 'collector', 'cli.js');

export function requireRoot(): void {
  if (process.geteuid?.() !== 0) {
    throw new Error('kernel tests load eBPF programs and must run as root (they do not skip)');
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Compiles a C workload with frame pointers so user stacks unwind. */
export function compileWorkload(dir: string, name: string, source: string, extra: string[] = []): string {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-fno-inline', '-Wl,--build-id', '-o', out, src, ...extra], { stdio: 'pipe' });
  return out;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/) to completion. */
export function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return runTool(process.execPath, [cliPath, ...args], opts.env ?? {}, opts.timeoutMs ?? 60_000, opts.cwd);
}

/** Starts a long-running process and returns it; the caller kills it. */
export function startProcess(file: string, args: string[] = []): ChildProcess {
  return spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface RunningAgent {
  port: number;
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/**
 * Starts `hotpath serve` on a free loopback port and waits until it listens. With `cgroupProcs` (a cgroup's
 * `cgroup.procs`) the agent runs in that cgroup from its first instruction (a shell joins it, then execs).
 */
export function startAgent(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}, cgroupProcs?: string): Promise<RunningAgent> {
  return new Promise((resolve, reject) => {
    const argv = [...SERVE_NODE_FLAGS, cliPath, 'serve', '--port', '0', ...args];
    const child = cgroupProcs
      ? spawn('/bin/sh', ['-c', 'echo $$ > "$HOTPATH_TEST_CGROUP_PROCS" && exec "$@"', 'sh', process.execPath, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...env, HOTPATH_TEST_CGROUP_PROCS: cgroupProcs },
        })
      : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hotpath serve did not start\n${stderr}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (https?):\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[2]);
        resolve({
          port,
          url: `${m[1]}://127.0.0.1:${port}`,
          child,
          stderr: () => stderr,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done(child.exitCode);
              child.once('exit', (code) => done(code));
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hotpath serve exited with ${code}\n${stderr}`));
    });
  });
}

/** Runs a command to completion and returns its output (the CLI, or real clients such as go tool pprof). */
export function runTool(file: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000, cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CPU-bound C workload spending its time in `hotpath_serve_hot`. */
export const HOT_LOOP_SOURCE = `
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void hotpath_serve_hot(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) hotpath_serve_hot(); }
`;

/** Swaps two paths atomically (renameat2 RENAME_EXCHANGE) as fast as it can, until killed: `swap A B`. */
export const RENAME_EXCHANGE_SOURCE = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv) {
  for (;;) if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) { perror("renameat2"); return 1; }
}
`;

/** A loopback TCP port free at the time of asking (for a real server a test starts: Prometheus). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls fn every `intervalMs` until it returns a value; throws with what it waited for (and the last error) on timeout. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Kills each child still running (SIGKILL) and waits until it has exited. */
export async function killAndWait(children: readonly (ChildProcess | undefined)[]): Promise<void> {
  for (const child of children) {
    if (!child || child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
