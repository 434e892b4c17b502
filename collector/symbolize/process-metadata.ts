// Process metadata that becomes sample labels: the process (thread-group leader) name and, for processes in
// containers, the container id and Kubernetes pod UID found in /proc/<pid>/cgroup. Parsing is pure over the
// file's text; reading is a small edge that never throws.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readBounded } from './file-reads.js';

export interface CgroupIdentity {
  /** 64 hex digits (docker, containerd, cri-o, podman). */
  containerId?: string;
  /** Kubernetes pod UID with dashes, e.g. `3f0c2d55-6f1e-4c1e-9a53-2b1d0c3e4f5a`. */
  podUid?: string;
}

export interface ProcessMetadata extends CgroupIdentity {
  /** The process's own name: /proc/<tgid>/comm, else the executable's base name. */
  process?: string;
}

const MAX_CGROUP_CHARS = 64 << 10;
// The last path component naming a container: `<64hex>`, `docker-<64hex>.scope`, `cri-containerd-<64hex>.scope`,
// `crio-<64hex>.scope`, `libpod-<64hex>.scope` (a `crio-conmon-` scope is the monitor, not the container).
const CONTAINER = /^(?:(?:docker|cri-containerd|crio|libpod|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
// `pod<uid>` (cgroupfs driver, dashes) or `kubepods-<qos>-pod<uid>.slice` (systemd driver, underscores).
const POD = /(?:^|[-/])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:\/|$)/;

/**
 * Container id and pod UID from the text of /proc/<pid>/cgroup, cgroup v1 (`N:controllers:/path` lines) or
 * v2 (`0::/path`). The unified (v2) line is preferred; v1 lines are tried in order. Never throws.
 */
export function parseCgroupIdentity(text: string): CgroupIdentity {
  const paths: string[] = [];
  for (const line of text.slice(0, MAX_CGROUP_CHARS).split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const p = line.slice(second + 1).trim();
    if (!p.startsWith('/')) continue;
    if (line.startsWith('0::')) paths.unshift(p);
    else paths.push(p);
  }
  const out: CgroupIdentity = {};
  for (const p of paths) {
    if (!out.containerId) {
      const parts = p.split('/');
      for (let i = parts.length - 1; i >= 0; i--) {
        const m = CONTAINER.exec(parts[i]);
        if (m) {
          out.containerId = m[1];
          break;
        }
      }
    }
    if (!out.podUid) {
      const m = POD.exec(p);
      if (m) out.podUid = m[1].replace(/_/g, '-');
    }
    if (out.containerId && out.podUid) break;
  }
  return out;
}

/** String labels for a sample: only the fields that are known. */
export function processLabels(meta: ProcessMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!meta) return out;
  if (meta.process) out.process = meta.process;
  if (meta.containerId) out.container_id = meta.containerId;
  if (meta.podUid) out.pod_uid = meta.podUid;
  return out;
}

/** Reads a process's metadata; undefined when the process is gone. Never throws. */
export function readProcessMetadata(pid: number, procRoot = '/proc'): ProcessMetadata | undefined {
  const dir = path.join(procRoot, String(pid));
  const commRead = readBounded(path.join(dir, 'comm'), 256);
  if (!commRead.ok) return undefined;
  const comm = commRead.text.replace(/\n$/, '');
  const meta: ProcessMetadata = {};
  if (comm) meta.process = comm;
  else {
    try {
      meta.process = path.basename(fs.readlinkSync(path.join(dir, 'exe')).replace(/ \(deleted\)$/, ''));
    } catch {
      // kernel threads have no executable
    }
  }
  // Unreadable: no container labels. Bounded: cgroup paths are named by whoever creates the cgroups.
  const cgroup = readBounded(path.join(dir, 'cgroup'), MAX_CGROUP_CHARS);
  if (cgroup.ok) Object.assign(meta, parseCgroupIdentity(cgroup.text));
  return meta;
}
