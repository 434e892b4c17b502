// C++ frames come out demangled in recorded profiles (system_name keeps the mangled name), and the process
// label lets the real `go tool pprof` filter a system-wide profile down to one program.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countWhere, readProfile, total } from './test-support/profile.js';
import { requireRoot, runCli, runTool, tempDir } from '../test-support/kernel.js';

const SOURCE = `
#include <cstdint>
namespace hotpath { namespace engine {
template <typename T> struct Accumulator {
  volatile T total{};
  __attribute__((noinline)) void crunch(const T *values, unsigned n) { for (unsigned r = 0; r < 2000; r++) for (unsigned i = 0; i < n; i++) total += values[i] * 7; }
};
} }
int main() {
  static long data[64];
  for (int i = 0; i < 64; i++) data[i] = i;
  hotpath::engine::Accumulator<long> acc;
  for (;;) acc.crunch(data, 64);
}
`;

describe('demangled C++ frames and process labels (kernel)', () => {
  it('records demangled names with mangled system names and filters by process with go tool pprof', async () => {
    requireRoot();
    const dir = tempDir('hotpath-cxx-');
    writeFileSync(join(dir, 'cxxhot.cc'), SOURCE);
    const bin = join(dir, 'cxxhot');
    execFileSync('g++', ['-O1', '-fno-omit-frame-pointer', '-o', bin, join(dir, 'cxxhot.cc')]);
    const cxx = spawn(bin, [], { stdio: 'ignore' });
    const other = spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const out = join(dir, 'cxx.pb.gz');
      // Whole system: both programs (and anything else running) land in one profile.
      const r = await runCli(['record', '--duration', '3', '--output', out]);
      expect(r.code, r.stderr).toBe(0);
      const samples = readProfile(out);
      const mine = samples.filter((s) => s.labels.pid === cxx.pid);
      const demangled = 'hotpath::engine::Accumulator<long>::crunch(long const*, unsigned int)';
      const hot = countWhere(mine, (f) => f.name === demangled && f.systemName === '_ZN7hotpath6engine11AccumulatorIlE6crunchEPKlj');
      console.log(`C++: ${hot} of ${total(mine)} samples in ${demangled}`);
      expect(total(mine)).toBeGreaterThan(100);
      expect(hot / total(mine)).toBeGreaterThan(0.9);
      expect(mine.every((s) => s.labels.process === 'cxxhot' && s.labels.comm === 'cxxhot')).toBe(true);

      // go tool pprof: -tags lists the label, -tagfocus keeps only that process's samples.
      const tags = await runTool('go', ['tool', 'pprof', '-tags', out]);
      expect(tags.code, tags.stderr).toBe(0);
      expect(tags.stdout).toMatch(/process:[\s\S]*cxxhot/);
      const focused = await runTool('go', ['tool', 'pprof', '-top', '-nodecount=5', '-tagfocus=process=cxxhot', out]);
      expect(focused.code, focused.stderr).toBe(0);
      expect(focused.stdout).toContain('hotpath::engine::Accumulator<long>::crunch');
      expect(focused.stdout).not.toMatch(/\bsh\b|JS:/);
      const none = await runTool('go', ['tool', 'pprof', '-top', '-tagfocus=process=no-such-process', out]);
      expect(none.stdout + none.stderr).not.toContain('crunch');
    } finally {
      cxx.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});
