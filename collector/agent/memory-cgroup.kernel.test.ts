// The default --memory-limit's promise, checked where it matters: `hotpath serve` on its defaults (every default
// program, DWARF unwinding, whole system) inside a memory cgroup of 256 MiB, while the machine runs hostile
// binaries (a 256 MiB string table, a hot function named by the demangler bomb) and a stream of short-lived
// processes of different binaries (node, python3, perl, gcc-built, xz), so every window symbolizes files it has
// not seen. The agent must not be OOM-killed, its resident peak (VmHWM) must stay within the 192 MiB budget,
// and what the cgroup was charged at its peak (the agent's memory, its eBPF maps' kernel memory and the page
// cache it read) must leave headroom in the 256 MiB.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { demanglerBombs, inflateStringTable } from '../symbolize/test-support/native.js';
import { compileWorkload, requireRoot, startAgent, tempDir, type RunningAgent } from '../test-support/kernel.js';
import { DEFAULT_MEMORY_LIMIT_BYTES } from './memory-budget.js';

const MiB = 1024 * 1024;
const CONTAINER_BYTES = 256 * MiB;
/** What a 256 MiB container must keep free of the agent at its peak. */
const HEADROOM_BYTES = 32 * MiB;

/** A memory cgroup with a hard limit: v2 where the memory controller is there, else v1's. */
interface MemoryCgroup {
  procs: string;
  peakBytes(): number;
  oomKills(): number;
  remove(): void;
}

function memoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const v2root = '/sys/fs/cgroup';
  const v2 = fs.existsSync(path.join(v2root, 'cgroup.controllers')) &&
    fs.readFileSync(path.join(v2root, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
  if (v2) {
    const dir = path.join(v2root, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes));
    fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    return {
      procs: path.join(dir, 'cgroup.procs'),
      peakBytes: () => Number(fs.readFileSync(path.join(dir, 'memory.peak'), 'utf8')),
      oomKills: () => Number(/^oom_kill (\d+)/m.exec(fs.readFileSync(path.join(dir, 'memory.events'), 'utf8'))?.[1] ?? 0),
      remove: () => fs.rmdirSync(dir),
    };
  }
  const dir = path.join('/sys/fs/cgroup/memory', name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
  return {
    procs: path.join(dir, 'cgroup.procs'),
    peakBytes: () => Number(fs.readFileSync(path.join(dir, 'memory.max_usage_in_bytes'), 'utf8')),
    oomKills: () => Number(/^oom_kill (\d+)/m.exec(fs.readFileSync(path.join(dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0),
    remove: () => fs.rmdirSync(dir),
  };
}

function statusKb(pid: number, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

describe('the default memory budget in a 256 MiB memory cgroup (kernel)', () => {
  const children: ChildProcess[] = [];
  let agent: RunningAgent | undefined;
  let cgroup: MemoryCgroup | undefined;

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await agent?.stop();
    await sleep(200);
    cgroup?.remove();
  });

  it('is never OOM-killed, keeps its resident peak within --memory-limit and leaves headroom, under hostile and churning workloads', async () => {
    requireRoot();
    const dir = tempDir('hotpath-memcg-');
    const spin = (name: string) => `
#include <stdint.h>
#include <unistd.h>
volatile uint64_t sink;
__attribute__((noinline)) void ${name}(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) { ${name}(); usleep(2000); } }
`;
    const big = compileWorkload(dir, 'bigstrtab', spin('hotpath_memcg_bigstrtab'));
    inflateStringTable(big, 256 << 20);
    const bomb = demanglerBombs().fourKiB;
    const bombBin = compileWorkload(dir, 'bomb', spin('bomb_hot').replace('__attribute__((noinline)) void bomb_hot', `void bomb_hot(void) __asm__("${bomb}");\n__attribute__((noinline)) void bomb_hot`));
    const churnC = path.join(dir, 'churn.c');
    fs.writeFileSync(churnC, 'int main(void){volatile long s=0;for(long i=0;i<60000000;i++)s+=i;return 0;}\n');
    // Short-lived processes of different binaries, started for as long as the test runs.
    const churn = [
      'while :; do',
      `  ${process.execPath} -e 'let s=0;for(let i=0;i<2e7;i++)s+=i' &`,
      "  python3 -c 'sum(range(3000000))' &",
      "  perl -e '$s=0; for(1..1000000){$s+=$_}' &",
      `  gcc -O0 ${churnC} -o ${dir}/churn-$$-$RANDOM && ${dir}/churn-* >/dev/null 2>&1 &`,
      `  timeout 1 xz -9 -c ${process.execPath} > /dev/null &`,
      '  sleep 1; rm -f ' + dir + '/churn-*',
      'done',
    ].join('\n');

    cgroup = memoryCgroup(`hotpath-test-memcg-${process.pid}`, CONTAINER_BYTES);
    agent = await startAgent(['--window', '2s'], 60_000, {}, cgroup.procs);
    const pid = agent.child.pid!;
    children.push(spawn(big, [], { stdio: 'ignore' }), spawn(bombBin, [], { stdio: 'ignore' }));
    children.push(spawn('/bin/sh', ['-c', churn], { stdio: 'ignore', detached: true }));

    let healthy = 0;
    let asked = 0;
    const end = Date.now() + 24_000;
    while (Date.now() < end) {
      await sleep(1000);
      asked++;
      const res = await fetch(`${agent.url}/healthz`).catch(() => undefined);
      if (res?.status === 200) healthy++;
      await res?.text();
    }
    const hwm = statusKb(pid, 'VmHWM') * 1024;
    const rss = statusKb(pid, 'VmRSS') * 1024;
    const peak = cgroup.peakBytes();
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    console.log(
      `agent in a ${CONTAINER_BYTES / MiB} MiB memory cgroup: VmHWM ${(hwm / MiB).toFixed(0)} MiB (budget ${DEFAULT_MEMORY_LIMIT_BYTES / MiB}), ` +
        `VmRSS ${(rss / MiB).toFixed(0)} MiB at the end, cgroup peak ${(peak / MiB).toFixed(0)} MiB, oom kills ${cgroup.oomKills()}, /healthz ${healthy}/${asked}`,
    );
    expect(agent.child.exitCode).toBeNull();
    expect(cgroup.oomKills()).toBe(0);
    expect(healthy).toBe(asked);
    expect(hwm).toBeLessThanOrEqual(DEFAULT_MEMORY_LIMIT_BYTES);
    expect(peak).toBeLessThanOrEqual(CONTAINER_BYTES - HEADROOM_BYTES);
    // It did the work: windows were symbolized all along (10 or more of 2 s in 24 s).
    const symbolized = Number(/^hotpath_symbolize_duration_seconds_count\{[^}]*profile="cpu"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(symbolized).toBeGreaterThanOrEqual(10);
    // The churn group: the shell and everything it started.
    for (const c of children) if (c.pid) try { process.kill(-c.pid, 'SIGKILL'); } catch { /* not a group leader */ }
  });
});
