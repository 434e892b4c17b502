// Containers: a process in its own mount namespace whose binary (and perf map) exist only inside it. Run with the
// kernel's openat2 and with the user-space walk that replaces it where it is missing (HOTPATH_OPENAT2=off): the
// perf map (and libc's debug file) are opened inside the process's root by it; the binary through map_files.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countWhere, readProfile, total } from './test-support/profile.js';
import { compileWorkload, requireRoot, runCli, tempDir } from '../test-support/kernel.js';

const SOURCE = `
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void hotpath_ns_only_hot(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) hotpath_ns_only_hot(); }
`;

const JS = 'function hotpath_ns_js_hot(n){let s=0;for(let i=0;i<n;i++)s=(s+i*7)%1000003;return s}let t=0;for(;;)t+=hotpath_ns_js_hot(1e6);';

/** Runs `script` under `unshare --mount --fork --kill-child` (private mounts; the workload dies with unshare) and waits until it has exec'd its workload. */
function startInMountNamespace(script: string, cwd: string) {
  // cwd: node --perf-basic-prof writes V8 isolate logs into its working directory.
  return spawn('unshare', ['--mount', '--propagation', 'private', '--fork', '--kill-child', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
}

/** The pid of the exec'd workload: the child of unshare (which forks). */
async function workloadPid(unsharePid: number, comm: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      const kids = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const k of kids) if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() === comm) return Number(k);
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${comm} under unshare ${unsharePid}`);
}

describe.each([
  ['openat2', ''],
  ['user-space', 'off'],
])('containers, process files opened by %s (kernel)', (resolver, env) => {
  it('names a binary that exists only in the process mount namespace, and its JIT perf map there', async () => {
    requireRoot();
    const dir = tempDir('hotpath-ns-');
    const built = compileWorkload(dir, 'nsonly', SOURCE);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const inside = join(mnt, 'nsonly');
    // tmpfs mounted inside the namespace; the binary is copied there, the host copy deleted, then exec'd.
    const native = startInMountNamespace(`mount -t tmpfs none ${mnt} && cp ${built} ${inside} && rm ${built} && exec ${inside}`, dir);
    // node with a private /tmp: its perf map is at /proc/<pid>/root/tmp/perf-<pid>.map, not in the host's /tmp.
    const js = startInMountNamespace(`mount -t tmpfs none /tmp && exec ${process.execPath} --perf-basic-prof -e '${JS}'`, dir);
    const workloads: number[] = [];
    try {
      const nativePid = await workloadPid(native.pid!, 'nsonly');
      const jsPid = await workloadPid(js.pid!, 'node');
      workloads.push(nativePid, jsPid);
      await new Promise((r) => setTimeout(r, 800));
      expect(existsSync(inside)).toBe(false); // not visible from the host's mount namespace
      expect(existsSync(`/tmp/perf-${jsPid}.map`)).toBe(false);
      const out = join(dir, 'ns.pb.gz');
      const r = await runCli(['record', '--pid', String(nativePid), '--pid', String(jsPid), '--duration', '3', '--output', out], { env: { HOTPATH_OPENAT2: env } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`files of profiled processes opened by ${resolver === 'openat2' ? 'openat2 (' : 'user-space walk, one name at a time (HOTPATH_OPENAT2=off)'}`);
      const samples = readProfile(out);
      const nativeSamples = samples.filter((s) => s.labels.pid === nativePid);
      const jsSamples = samples.filter((s) => s.labels.pid === jsPid);
      const hot = countWhere(nativeSamples, (f) => f.name === 'hotpath_ns_only_hot' && f.mapping === inside);
      const jsHot = countWhere(jsSamples, (f) => /hotpath_ns_js_hot/.test(f.name) && f.mapping === '[jit]');
      console.log(`${resolver}: mount namespace: native ${hot}/${total(nativeSamples)}, JIT ${jsHot}/${total(jsSamples)} samples named`);
      expect(total(nativeSamples)).toBeGreaterThan(100);
      expect(hot / total(nativeSamples)).toBeGreaterThan(0.9);
      expect(jsHot / total(jsSamples)).toBeGreaterThan(0.5);
    } finally {
      // unshare --fork leaves the workload behind when killed: end the workloads by their own pids first.
      for (const p of workloads) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      native.kill('SIGKILL');
      js.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
