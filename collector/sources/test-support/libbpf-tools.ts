// Runs a libbpf-tools program (runqlat, biolatency, offcputime) beside ours and parses its text output.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ToolBucket {
  lo: number;
  hi: number;
  count: number;
}

/** One printed histogram; `label` is the line before it ("disk = vda"), if any. */
export interface ToolHistogram {
  label: string | null;
  unit: string;
  buckets: ToolBucket[];
}

/** Parses libbpf-tools' print_log2_hist output: "     usecs : count distribution" then "lo -> hi : n |***|". */
export function parseToolHistograms(text: string): ToolHistogram[] {
  const out: ToolHistogram[] = [];
  let label: string | null = null;
  let current: ToolHistogram | null = null;
  for (const line of text.split('\n')) {
    const header = /^\s*(\w+)\s+: count\s+distribution/.exec(line);
    const row = /^\s*(\d+) -> (\d+)\s*: (\d+)/.exec(line);
    if (header) {
      current = { label, unit: header[1], buckets: [] };
      out.push(current);
    } else if (row && current) {
      current.buckets.push({ lo: Number(row[1]), hi: Number(row[2]), count: Number(row[3]) });
    } else if (line.trim() !== '') {
      label = line.trim();
      current = null;
    }
  }
  return out;
}

export function toolCount(h: ToolHistogram): number {
  return h.buckets.reduce((a, b) => a + b.count, 0);
}

/** log2 index of the bucket holding the median (bucket "2^i -> 2^(i+1)-1" has index i, "0 -> 1" index 0). */
export function toolMedianIndex(h: ToolHistogram): number {
  const total = toolCount(h);
  let seen = 0;
  for (const b of h.buckets) {
    seen += b.count;
    if (seen * 2 >= total) return b.lo === 0 ? 0 : Math.round(Math.log2(b.lo));
  }
  return -1;
}

export interface RunningTool {
  child: ChildProcess;
  /** Resolves once the tool printed its "Tracing ..." line: its programs are attached. */
  attached: Promise<void>;
  /** Resolves when `marker` first appears in the output (e.g. the histogram header: the interval ended). */
  seen(marker: RegExp): Promise<void>;
  /** All output, on exit. */
  done: Promise<string>;
}

/** Starts a tool with line-buffered stdout (stdbuf) so its progress lines arrive when printed. */
export function runTool(path: string, args: string[]): RunningTool {
  const child = spawn('stdbuf', ['-oL', path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters.splice(0)) {
      if (w.re.test(text)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${path} exited ${code}: ${stderr}`))));
  });
  const seen = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(text)) return resolve();
      waiters.push({ re, resolve });
      done.then(() => (re.test(text) ? resolve() : reject(new Error(`${path}: no ${re} in output: ${text}`))), reject);
    });
  return { child, attached: seen(/Tracing/), seen, done };
}

/** Runs a command to completion; rejects on a non-zero exit. */
export function runToCompletion(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))));
  });
}
