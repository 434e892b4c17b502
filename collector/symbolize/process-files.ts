// Files of a profiled process, which may live in another mount namespace (a container). Paths are resolved
// inside the process's root, and opened so that what a container plants there cannot block the collector or
// lead it outside that root.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readBounded } from './file-reads.js';
import type { ProcMapping } from './proc-maps.js';

/**
 * Opening a path a container controls: never block on a FIFO planted there (O_NONBLOCK; non-regular files are
 * rejected after fstat) and never follow a symlink swapped in after resolveInRoot checked the path.
 */
export const SAFE_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;

/**
 * Opens the file behind mapping `m` of `pid`; -1 when it cannot be opened. The caller checks with fstat that
 * it is a regular file and the inode the maps line names.
 */
export function openMappedFile(procRoot: string, pid: number, m: ProcMapping): number {
  const pidDir = path.join(procRoot, String(pid));
  // map_files names exactly the mapped file (deleted, replaced or in another mount namespace alike).
  try {
    return fs.openSync(path.join(pidDir, 'map_files', `${m.start.toString(16)}-${m.end.toString(16)}`), 'r');
  } catch {
    const resolved = resolveInRoot(path.join(pidDir, 'root'), m.path);
    if (!resolved || m.deleted) return -1;
    try {
      return fs.openSync(resolved, SAFE_OPEN_FLAGS);
    } catch {
      return -1;
    }
  }
}

/**
 * The directory `pid`'s absolute paths are looked up under: `/` for a process that shares the collector's root
 * and mount namespace (a host process), else `<procRoot>/<pid>/root` (a container). Undefined when that root
 * cannot be read (the process exited, or the collector may not look into it).
 */
export function processRoot(procRoot: string, pid: number): string | undefined {
  const pidDir = path.join(procRoot, String(pid));
  const root = path.join(pidDir, 'root');
  let own: fs.BigIntStats;
  let theirs: fs.BigIntStats;
  try {
    theirs = fs.statSync(root, { bigint: true });
    own = fs.statSync('/', { bigint: true });
  } catch {
    return undefined;
  }
  if (!theirs.isDirectory()) return undefined;
  if (theirs.dev !== own.dev || theirs.ino !== own.ino) return root;
  // Same root directory, but another mount namespace may mount other file systems on top of it.
  const ns = readLink(path.join(pidDir, 'ns', 'mnt'));
  const ownNs = readLink('/proc/self/ns/mnt');
  return ns !== undefined && ownNs !== undefined && ns !== ownNs ? root : '/';
}

function readLink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** A regular file opened inside a process root, with its identity. The caller closes `fd`. */
export interface OpenedFile {
  fd: number;
  size: number;
  /** dev:ino:size:mtime, as the ELF cache keys files. */
  identity: string;
  /** dev:ino. */
  inode: string;
}

/**
 * Opens `p` resolved inside `root` by the rules above (no symlink out of the root, O_NOFOLLOW|O_NONBLOCK), if
 * it is a regular file of at most `maxBytes`; undefined otherwise. Never throws.
 */
export function openInRoot(root: string, p: string, maxBytes: number): OpenedFile | undefined {
  const resolved = resolveInRoot(root, p);
  if (!resolved) return undefined;
  let fd = -1;
  try {
    fd = fs.openSync(resolved, SAFE_OPEN_FLAGS);
    const s = fs.fstatSync(fd, { bigint: true });
    if (!s.isFile() || s.size > BigInt(maxBytes)) {
      fs.closeSync(fd);
      return undefined;
    }
    return { fd, size: Number(s.size), identity: fileIdentity(s), inode: `${s.dev}:${s.ino}` };
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return undefined;
  }
}

/** The identity of a file's contents as the caches key them: device, inode, size and mtime. */
export function fileIdentity(s: fs.BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

/** The pid as the process's own pid namespace sees it: last field of `NSpid:` in /proc/<pid>/status. */
export function readNsPid(pidDir: string): number | undefined {
  const r = readBounded(path.join(pidDir, 'status'), 1 << 16);
  if (!r.ok) return undefined;
  const line = /^NSpid:\s*(.*)$/m.exec(r.text);
  const last = line?.[1].trim().split(/\s+/).pop();
  const n = last ? Number(last) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Resolves `p` inside `root` the way the process would, following symlinks by hand so an absolute link
 * target stays under `root` instead of escaping to the host's file system. Returns undefined on a missing
 * component or a symlink loop.
 */
export function resolveInRoot(root: string, p: string): string | undefined {
  if (!p.startsWith('/')) return undefined;
  let pending = p.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const comp = pending.shift()!;
    if (comp === '.') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, comp);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      let target: string;
      try {
        target = fs.readlinkSync(candidate);
      } catch {
        return undefined;
      }
      const parts = target.split('/').filter(Boolean);
      if (target.startsWith('/')) done.length = 0;
      pending = [...parts, ...pending];
      continue;
    }
    done.push(comp);
  }
  return path.join(root, ...done);
}
