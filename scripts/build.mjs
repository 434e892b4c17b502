#!/usr/bin/env node
// Builds hotpath: programs/*.bpf.c -> dist/programs/*.bpf.o (clang, CO-RE) and the TypeScript -> dist/.
//
// vmlinux.h is generated here from the running kernel's BTF (/sys/kernel/btf/vmlinux) with bpftool rather
// than committed: it is several megabytes, specific to one kernel build, and CO-RE relocations make a
// header from any BTF kernel good for every other one. Every machine hotpath targets has BTF (it needs it
// at run time anyway), so generating it costs nothing and never goes stale. Set HOTPATH_VMLINUX_BTF to
// build against another BTF file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const programs = join(root, 'programs');
const out = join(root, 'dist', 'programs');
const only = process.argv.slice(2);

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
  } catch (err) {
    if (err.code === 'ENOENT') {
      console.error(`build: ${cmd} not found; install it (Debian: apt-get install clang llvm libbpf-dev bpftool)`);
    } else {
      console.error(`build: ${cmd} ${args.join(' ')} failed`);
    }
    process.exit(1);
  }
}

function vmlinuxHeader() {
  const header = join(programs, 'vmlinux.h');
  const btf = process.env.HOTPATH_VMLINUX_BTF ?? '/sys/kernel/btf/vmlinux';
  if (existsSync(header) && statSync(header).size > 0) return;
  if (!existsSync(btf)) {
    console.error(`build: ${btf} is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is required)`);
    process.exit(1);
  }
  writeFileSync(header, run('bpftool', ['btf', 'dump', 'file', btf, 'format', 'c']));
}

function buildPrograms() {
  vmlinuxHeader();
  mkdirSync(out, { recursive: true });
  const arch = { x64: 'x86', arm64: 'arm64' }[process.arch] ?? process.arch;
  for (const file of readdirSync(programs).filter((f) => f.endsWith('.bpf.c'))) {
    const name = file.slice(0, -'.bpf.c'.length);
    if (only.length > 0 && !only.includes(name)) continue;
    const obj = join(out, `${name}.bpf.o`);
    run('clang', [
      '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-g', '-O2', '-Wall', '-Werror',
      '-I', programs, '-c', join(programs, file), '-o', obj,
    ]);
  }
}

buildPrograms();
if (only.length === 0) run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);
