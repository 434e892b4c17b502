// JIT frames end to end: a real `node --perf-basic-prof` program profiled by `hotpath record --pid`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countWhere, readProfile, total } from './test-support/profile.js';
import { requireRoot, runCli, tempDir } from '../test-support/kernel.js';

// Arithmetic in a loop inside a named function V8 optimizes; functions compiled later grow the perf map.
const SCRIPT = `
function hotpath_js_hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
let sink = 0, k = 0;
setInterval(() => { new Function('x', 'return x + ' + (k++))(1); }, 50);
for (;;) { sink += hotpath_js_hot(2e6); if (sink < 0) break; await new Promise((r) => setImmediate(r)); }
`;

describe('JIT frames from perf maps (kernel)', () => {
  it('names the JavaScript functions of a node --perf-basic-prof process under [jit]', async () => {
    requireRoot();
    const dir = tempDir('hotpath-jit-');
    // --perf-basic-prof also makes V8 write isolate-*.log into the working directory: keep it in the temp dir.
    const child = spawn(process.execPath, ['--perf-basic-prof', '--input-type=module', '-e', SCRIPT], { stdio: 'ignore', cwd: dir });
    try {
      await new Promise((r) => setTimeout(r, 1000)); // let V8 optimize the hot function
      const out = join(dir, 'jit.pb.gz');
      const r = await runCli(['record', '--pid', String(child.pid), '--duration', '3', '--output', out]);
      expect(r.code, r.stderr).toBe(0);
      const samples = readProfile(out);
      const all = total(samples);
      const hot = countWhere(samples, (f) => /hotpath_js_hot/.test(f.name) && f.mapping === '[jit]');
      console.log(`node JIT: ${hot} of ${all} samples in hotpath_js_hot under [jit]`);
      expect(all).toBeGreaterThan(100);
      expect(hot / all).toBeGreaterThan(0.5);
      // Named like V8 writes them, e.g. `JS:*hotpath_js_hot file:1:10`.
      const name = samples.flatMap((s) => s.frames).find((f) => /hotpath_js_hot/.test(f.name))!.name;
      expect(name).toMatch(/^(JS|LazyCompile|Function):[*~^]?hotpath_js_hot /);
      expect(samples.every((s) => s.labels.process === 'node')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
