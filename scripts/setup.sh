#!/usr/bin/env bash
# Sets up hotpath on a Debian/Ubuntu machine, as root: system packages, node modules, the build.
#   bash scripts/setup.sh          what building and running the agent needs
#   bash scripts/setup.sh --test   also the real clients and workloads the tests use
# Safe to run again: installs only what is missing, rebuilds every time.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (it installs system packages; hotpath loads eBPF programs)" >&2
  exit 1
fi

# libc6-dbg: libc's detached symbols (Debian's libc has no .symtab), so C stacks name their libc frames.
packages=(clang llvm libbpf-dev libbpf1 bpftool gcc make libc6-dbg)
if [ "$want_tests" = 1 ]; then
  # Real clients and peers: go tool pprof, promtool + prometheus, chromium (playwright-core drives it),
  # workloads (fio, stress-ng, perf bench) and libbpf-tools/bpftrace to compare with.
  packages+=(golang-go prometheus chromium fio stress-ng linux-perf libbpf-tools bpftrace binutils g++ procps util-linux xz-utils)
  # The deploy files are checked by real tools: systemd-analyze, Debian's python3 with PyYAML, libseccomp (the
  # unit's and the DaemonSet's system call filters applied to a real agent), strace.
  packages+=(systemd python3 python3-yaml libseccomp2 strace)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old: hotpath needs Node.js 20 or later" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "setup: ready (hotpath $(node dist/collector/cli.js --version | cut -d' ' -f2), kernel $(uname -r))"
