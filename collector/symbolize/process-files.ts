// Files of a profiled process, which may live in another mount namespace (a container) and are laid out by
// whoever owns that process. Every such file is opened the same way, so that nothing planted on the path can
// block the collector, make it open a device, or lead it outside the process's root:
// 1. the path is resolved inside the process's root, magic links refused (openInRoot: by the kernel's openat2
//    RESOLVE_IN_ROOT where it exists, else by the same rules walked one name at a time in user space), as
//    O_PATH: the inode is reached without opening it (no driver open, no inotify IN_OPEN);
// 2. fstat of that O_PATH descriptor refuses anything that is not a regular file (of at most a size);
// 3. only then is the same inode opened for reading through /proc/self/fd, O_NOCTTY|O_NONBLOCK|O_CLOEXEC.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EAGAIN, ELOOP, openInRoot } from '../bpf/open-in-root.js';
import { readBounded } from './file-reads.js';
import type { ProcMapping } from './proc-maps.js';

const { O_RDONLY, O_NOCTTY, O_NONBLOCK, O_NOFOLLOW, O_DIRECTORY } = fs.constants;
/** Linux values (the same on x86-64 and arm64); Node does not export them. */
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** How a file a process controls is read once it is known to be regular: never as a tty, never blocking. */
export const SAFE_READ_FLAGS = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

/**
 * Why a file was not opened. `not-regular` and `too-large` were refused after fstat, before any read;
 * `link-refused` on the way there (a /proc magic link, or a symlink loop: ELOOP from the resolver; or a path whose
 * directories kept being renamed during the lookup: EAGAIN from openat2 after its retries).
 */
export type OpenRefusal = 'missing' | 'not-regular' | 'too-large' | 'link-refused';

/** A regular file opened for reading, with its fstat. The caller closes `fd`. */
export interface OpenedFile {
  fd: number;
  size: number;
  stat: fs.BigIntStats;
  /** dev:ino:size:mtime, as the ELF cache keys files. */
  identity: string;
  /** dev:ino. */
  inode: string;
}

export type OpenResult = { ok: true; file: OpenedFile } | { ok: false; reason: OpenRefusal };

export interface SafeOpenOptions {
  /** Follow a symlink in the last component (inside the root). Default true. */
  followLast?: boolean;
  /** Larger files are refused. Default: no limit. */
  maxBytes?: number;
}

/**
 * Opens `p` (absolute, as the process sees it) inside the root directory `rootFd` by the steps above.
 * Never throws.
 */
export function openRegularInRoot(rootFd: number, p: string, options: SafeOpenOptions = {}): OpenResult {
  if (!p.startsWith('/') || p.includes('\0')) return { ok: false, reason: 'missing' };
  const pathFd = openInRoot(rootFd, p, O_PATH | O_CLOEXEC | (options.followLast === false ? O_NOFOLLOW : 0));
  if (pathFd < 0) return { ok: false, reason: pathFd === -ELOOP || pathFd === -EAGAIN ? 'link-refused' : 'missing' };
  return reopenRegular(pathFd, options.maxBytes);
}

/**
 * Opens `p` inside `pid`'s root (see processRoot) by the steps above. Undefined root (the process is gone)
 * gives `missing`. Never throws.
 */
export function openInProcessRoot(procRoot: string, pid: number, p: string, options: SafeOpenOptions = {}): OpenResult {
  const root = processRoot(procRoot, pid);
  if (root === undefined) return { ok: false, reason: 'missing' };
  return openInRootDir(root, p, options);
}

/** Opens `p` inside the directory `root` (a path of the collector's, e.g. `/` or `/proc/<pid>/root`). Never throws. */
export function openInRootDir(root: string, p: string, options: SafeOpenOptions = {}): OpenResult {
  let rootFd = -1;
  try {
    rootFd = fs.openSync(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  try {
    return openRegularInRoot(rootFd, p, options);
  } finally {
    fs.closeSync(rootFd);
  }
}

/**
 * Step 2 and 3 for an O_PATH descriptor (closed here): refused unless a regular file of at most `maxBytes`;
 * else the same inode opened for reading. Never throws.
 */
function reopenRegular(pathFd: number, maxBytes = Infinity): OpenResult {
  let fd = -1;
  try {
    const s = fs.fstatSync(pathFd, { bigint: true });
    if (!s.isFile()) return { ok: false, reason: 'not-regular' };
    if (Number(s.size) > maxBytes) return { ok: false, reason: 'too-large' };
    // /proc/self/fd/N of an O_PATH descriptor names exactly that inode: no path lookup happens again.
    fd = fs.openSync(`/proc/self/fd/${pathFd}`, SAFE_READ_FLAGS);
    const r = fs.fstatSync(fd, { bigint: true });
    if (r.dev !== s.dev || r.ino !== s.ino || !r.isFile()) {
      fs.closeSync(fd);
      return { ok: false, reason: 'not-regular' };
    }
    return { ok: true, file: { fd, size: Number(r.size), stat: r, identity: fileIdentity(r), inode: `${r.dev}:${r.ino}` } };
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return { ok: false, reason: 'missing' };
  } finally {
    fs.closeSync(pathFd);
  }
}

/**
 * Opens the file behind mapping `m` of `pid` by the steps above: through `map_files`, which names exactly the
 * mapped file (deleted, replaced or in another mount namespace alike), else by its path inside the process's
 * root. The caller checks the inode against the maps line. Never throws.
 */
export function openMapped(procRoot: string, pid: number, m: ProcMapping): OpenResult {
  const pidDir = path.join(procRoot, String(pid));
  // A map_files entry is a magic link by design: opening it (O_PATH) follows it to the mapped inode.
  let pathFd = -1;
  try {
    pathFd = fs.openSync(path.join(pidDir, 'map_files', `${m.start.toString(16)}-${m.end.toString(16)}`), O_PATH | O_CLOEXEC);
  } catch {
    // no map_files (no CAP_SYS_ADMIN, older kernel, synthetic /proc): by path
  }
  if (pathFd >= 0) return reopenRegular(pathFd);
  if (m.deleted) return { ok: false, reason: 'missing' };
  return openInProcessRoot(procRoot, pid, m.path);
}

/**
 * The fd of the regular file behind mapping `m` of `pid` (see openMapped), or -1. The caller closes it and
 * checks the inode against the maps line.
 */
export function openMappedFile(procRoot: string, pid: number, m: ProcMapping): number {
  const r = openMapped(procRoot, pid, m);
  return r.ok ? r.file.fd : -1;
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
