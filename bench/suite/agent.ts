// Runs the real agent (`node dist/collector/cli.js serve`) on a free loopback port, as users run it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { sleep, type ProcessGroup, type Tracked } from './procs.js';
import { SERVE_NODE_FLAGS } from '../../collector/cli/node-flags.js';

/** The repository root: the nearest directory above this file whose package.json is hotpath's. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hotpath') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the hotpath repository above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface RunningAgent {
  proc: Tracked;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** Starts `hotpath serve --port 0 <args>` and resolves once it listens (its programs are attached by then). */
export async function startAgent(group: ProcessGroup, root: string, args: string[], timeoutMs = 60_000): Promise<RunningAgent> {
  const cli = join(root, 'dist', 'collector', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  const proc = group.start(process.execPath, [...SERVE_NODE_FLAGS, cli, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void proc.exited.then((c) => (exited = c));
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(proc.output().stderr);
    if (m) {
      return { proc, pid: proc.pid, url: m[1], stop: () => group.stop(proc, 'SIGTERM', 10_000) };
    }
    if (exited !== undefined || Date.now() > deadline) {
      await group.stop(proc, 'SIGKILL');
      const why = exited !== undefined ? `exited (${exited})` : `did not listen within ${timeoutMs / 1000} s`;
      throw new Error(`hotpath serve ${args.join(' ')} ${why}: ${proc.output().stderr.trim().split('\n').slice(-4).join(' | ')}`);
    }
    await sleep(100);
  }
}

/** GETs a loopback URL; the body as a Buffer, an error for a non-200 answer. */
export async function httpGet(url: string, timeoutMs: number): Promise<Buffer> {
  const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${body.toString('utf8', 0, 300).trim()}`);
  return body;
}

/** Sum over every series of a metric in Prometheus text (e.g. all `hotpath_drain_duration_seconds_count`). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** Waits until the agent has drained `n` windows (its first window parses and tables everything it sees). */
export async function waitForDrains(agent: RunningAgent, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = (await httpGet(`${agent.url}/metrics`, 10_000)).toString('utf8');
    if (metricSum(text, 'hotpath_drain_duration_seconds_count') >= n) return;
    if (Date.now() > deadline) throw new Error(`agent drained fewer than ${n} windows in ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}
