// Names of cgroup v2 ids, for run-queue latency per container. A cgroup's id (what the kernel reports as
// task->cgroups->dfl_cgrp->kn->id, and bpf_get_current_cgroup_id) is the inode number of its directory in the
// cgroup2 file system, so the names come from walking that tree: bounded (directories and depth), and again
// only when an id is not known, at most every `minRescanMs`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCgroupIdentity } from '../symbolize/process-metadata.js';

export interface CgroupNamesOptions {
  /** Where the cgroup2 file system is mounted (default: found in /proc/self/mountinfo, else /sys/fs/cgroup). */
  root?: string;
  /** Directories walked at most per scan (default 16384); what is past it stays unnamed (counted). */
  maxDirs?: number;
  maxDepth?: number;
  minRescanMs?: number;
  now?: () => number;
}

/** The cgroup2 mount point from /proc/self/mountinfo text (field 5 of the line whose fs type is cgroup2). */
export function cgroup2MountPoint(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fsType = line.slice(sep + 3).split(' ')[0];
    if (fsType !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    // mountinfo escapes spaces and the like as \ooo.
    if (mountPoint) return mountPoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

export class CgroupNames {
  private readonly root: string;
  private readonly maxDirs: number;
  private readonly maxDepth: number;
  private readonly minRescanMs: number;
  private readonly now: () => number;
  private byId = new Map<bigint, string>();
  private scannedAt = -Infinity;
  /** When each unknown id was first asked for: it is gone once a scan after that did not find it. */
  private readonly firstAsked = new Map<bigint, number>();
  /** Scans that stopped at maxDirs. */
  truncatedScans = 0;
  scans = 0;

  constructor(opts: CgroupNamesOptions = {}) {
    let root = opts.root;
    if (root === undefined) {
      try {
        root = cgroup2MountPoint(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
      } catch {
        root = undefined;
      }
    }
    this.root = root ?? '/sys/fs/cgroup';
    this.maxDirs = opts.maxDirs ?? 16384;
    this.maxDepth = opts.maxDepth ?? 32;
    this.minRescanMs = opts.minRescanMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /** The cgroup's path under the root (`/` for the root), null once it is known to be gone, else undefined. */
  pathOf(id: bigint): string | null | undefined {
    const known = this.byId.get(id);
    if (known !== undefined) return known;
    const now = this.now();
    const asked = this.firstAsked.get(id) ?? now;
    this.firstAsked.set(id, asked);
    if (this.scannedAt <= asked && now - this.scannedAt >= this.minRescanMs) this.scan(now);
    const found = this.byId.get(id);
    if (found !== undefined) {
      this.firstAsked.delete(id);
      return found;
    }
    if (this.scannedAt > asked) {
      this.firstAsked.delete(id);
      return null;
    }
    return undefined;
  }

  /**
   * The label value of a cgroup: its container id when its path names one (docker, containerd, cri-o, podman;
   * `podLabel` may turn the container into namespace/pod/container), else its path.
   */
  labelOf(id: bigint, podLabel?: (identity: { containerId?: string; podUid?: string }) => string | undefined): string | null | undefined {
    const p = this.pathOf(id);
    if (p === null || p === undefined) return p;
    const identity = parseCgroupIdentity(`0::${p}`);
    if (identity.containerId) return podLabel?.(identity) ?? identity.containerId;
    return p;
  }

  private scan(now: number): void {
    this.scannedAt = now;
    this.scans++;
    const byId = new Map<bigint, string>();
    const queue: [string, number][] = [['/', 0]];
    let dirs = 0;
    for (let next = 0; next < queue.length; next++) {
      const [rel, depth] = queue[next];
      const abs = path.join(this.root, rel);
      try {
        byId.set(fs.statSync(abs, { bigint: true }).ino, rel);
      } catch {
        continue; // removed meanwhile
      }
      if (++dirs >= this.maxDirs) {
        this.truncatedScans++;
        break;
      }
      if (depth >= this.maxDepth) continue;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(abs, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) queue.push([path.posix.join(rel, e.name), depth + 1]);
    }
    this.byId = byId;
  }
}
