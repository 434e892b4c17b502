// Opening a path that a profiled (possibly hostile) process controls, inside that process's root directory.
// Where the kernel has openat2 (5.6+) it resolves the path itself, with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS.
// Older kernels answer ENOSYS (and a seccomp filter that does not know openat2 answers ENOSYS or EPERM): there
// the same rules are kept in user space by walking the path one name at a time from the root's descriptor:
// - each name is opened with openat(O_PATH | O_NOFOLLOW) relative to the descriptor of the directory reached so
//   far, so no step ever resolves more than one name and no symlink is followed by the kernel. A directory
//   swapped for a symlink between two steps is seen as a symlink at the next step, and read here;
// - a symlink's target is walked inside the root: an absolute target starts again at the root's descriptor,
//   `..` at the root stays there (the walk keeps the descriptors of the directories it went through and goes
//   back up through them, never through the file system's `..`);
// - symlinks on procfs below its top directory are refused with ELOOP. That is where every magic link lives
//   (/proc/<pid>/fd/*, root, cwd, exe, map_files/*, ns/*): their target text (`/`, `pipe:[..]`, a path in
//   another mount namespace) does not say where the kernel would lead, so they are not read as paths at all.
//   The ordinary links at the top (/proc/self, /proc/thread-self, /proc/mounts) are followed, as openat2 does;
// - at most 40 symlinks per lookup (the kernel's MAXSYMLINKS), names of at most NAME_MAX bytes, paths and
//   targets of less than PATH_MAX, at most MAX_DEPTH directories held at once.
// Both give the caller the same contract: an fd opened with the caller's flags (O_PATH for the symbolizer), or
// -errno; never throws. The last name honours the caller's O_NOFOLLOW (an O_PATH | O_NOFOLLOW open of a symlink
// gives the link itself, as openat2 does).

import * as fs from 'node:fs';
import { closeFd, errnoMessage, fileSystemTypeOf, openat2InRoot, openatName, readlinkOfFd } from './libbpf.js';

/** Which resolver openInRoot uses: the kernel's openat2, or the walk of this file. */
export type InRootResolver = 'openat2' | 'user-space';

const { O_NOFOLLOW, O_DIRECTORY } = fs.constants; // these two differ between x86-64 and arm64
/** Linux values (the same on x86-64 and arm64); Node does not export them. */
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const ENOENT = 2;
const EPERM = 1;
const ENOTDIR = 20;
const ENAMETOOLONG = 36;
const ENOSYS = 38;
/** openat2 with RESOLVE_IN_ROOT: a rename or mount raced a `..` step, so the kernel could not vouch for it. */
export const EAGAIN = 11;
/** Tries of openat2 while it answers EAGAIN: one race is ordinary, a path renamed on every try is refused. */
const RACED_TRIES = 4;
/** What a refused link (magic link, loop, too many links) answers: -ELOOP. */
export const ELOOP = 40;

const MAX_SYMLINKS = 40;
const PATH_MAX = 4096;
const NAME_MAX = 255;
/** Directories held open at once in one walk (the kernel has no such limit; real paths are far shallower). */
const MAX_DEPTH = 256;
const PROC_SUPER_MAGIC = 0x9fa0;
const PROC_ROOT_INO = 1n;
const SLASH = 0x2f;
const DOT = 0x2e;

let forced: InRootResolver | null = null;
let chosen: { resolver: InRootResolver; why: string } | undefined;

/**
 * choice is the resolver in use, probed once on first use: openat2 unless the kernel (or a seccomp filter)
 * refuses the call, or the environment says `HOTPATH_OPENAT2=off` (read once, at that first use).
 */
function choice(): { resolver: InRootResolver; why: string } {
  if (forced !== null) return { resolver: forced, why: 'forced' };
  if (chosen === undefined) {
    if (process.env.HOTPATH_OPENAT2 === 'off') {
      chosen = { resolver: 'user-space', why: 'HOTPATH_OPENAT2=off' };
    } else {
      const fd = openat2InRoot(AT_FDCWD, '/', O_PATH | O_CLOEXEC);
      if (fd >= 0) closeFd(fd);
      chosen = fd === -ENOSYS || fd === -EPERM
        ? { resolver: 'user-space', why: `openat2: ${errnoMessage(-fd)}` }
        : { resolver: 'openat2', why: 'RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS' };
    }
  }
  return chosen;
}

/** inRootResolver names the resolver openInRoot uses (probing the kernel on the first call). */
export function inRootResolver(): InRootResolver {
  return choice().resolver;
}

/** describeInRootResolver says in one line which resolver opens the files of profiled processes, and why. */
export function describeInRootResolver(): string {
  const { resolver, why } = choice();
  return resolver === 'openat2' ? `openat2 (${why})` : `user-space walk, one name at a time (${why})`;
}

/** forceInRootResolver makes openInRoot use `resolver` whatever the kernel has (tests; null: probe again). */
export function forceInRootResolver(resolver: InRootResolver | null): void {
  forced = resolver;
  if (resolver === null) chosen = undefined;
}

/**
 * openInRoot opens `path` relative to the directory `rootFd` as if `rootFd` were `/`: absolute symlinks and `..`
 * never leave it, /proc magic links are refused (ELOOP), at most 40 symlinks are followed (ELOOP). `flags` are
 * open(2) flags (the caller adds O_CLOEXEC). By openat2 (5.6+), else by the user-space walk above. Returns the
 * fd, or -errno: -EAGAIN when renames kept racing the lookup (openat2 only; retried a few times first). Never throws.
 */
export function openInRoot(rootFd: number, path: string, flags: number): number {
  if (choice().resolver === 'user-space') return walkInRoot(rootFd, path, flags);
  let fd = openat2InRoot(rootFd, path, flags);
  // openat2(2): EAGAIN when a rename or mount during the lookup means a `..` could have left the root; the caller
  // may try again. A path still racing after that is given up (-EAGAIN): refused, never resolved outside.
  for (let i = 1; fd === -EAGAIN && i < RACED_TRIES; i++) fd = openat2InRoot(rootFd, path, flags);
  if (fd !== -ENOSYS) return fd;
  // Refused after the probe (a seccomp filter installed since): walk from now on.
  chosen = { resolver: 'user-space', why: `openat2: ${errnoMessage(ENOSYS)}` };
  return walkInRoot(rootFd, path, flags);
}

// Scratch buffers of the walk (synchronous: one walk at a time per thread).
const nameBuffer = Buffer.alloc(NAME_MAX + 1);
const linkBuffer = Buffer.alloc(PATH_MAX);
const CURRENT_DIR = Buffer.from('.\0');

/**
 * walkInRoot is the user-space resolver: openInRoot's contract by openat, readlinkat and fstatfs only (any
 * kernel), one name per step as described at the top of this file. Exported for tests and measurements; callers
 * use openInRoot. Returns the fd, or -errno. Never throws.
 */
export function walkInRoot(rootFd: number, path: string, flags: number): number {
  const bytes = Buffer.from(path);
  if (bytes.length === 0) return -ENOENT;
  if (bytes.length >= PATH_MAX) return -ENAMETOOLONG;
  const nofollow = (flags & O_NOFOLLOW) !== 0;
  // dirs[0] is the caller's root; the others were opened here and are closed here.
  const dirs = [rootFd];
  // The names still to walk, the next one last.
  const pending: Buffer[] = [];
  pushNames(pending, bytes);
  let links = 0;
  const backToRoot = () => {
    while (dirs.length > 1) closeFd(dirs.pop()!);
  };
  /** Queues the target of the symlink `linkFd` (closed here; `n` is readlinkOfFd's answer for it) in `dir`; 0 or -errno. */
  const follow = (linkFd: number, dir: number, n: number): number => {
    try {
      if (n < 0) return n;
      if (++links > MAX_SYMLINKS) return -ELOOP;
      if (n >= linkBuffer.length) return -ENAMETOOLONG;
      if (n === 0) return -ENOENT;
      if (isMagicLinkCandidate(linkFd, dir)) return -ELOOP;
      const target = Buffer.from(linkBuffer.subarray(0, n));
      if (target[0] === SLASH) backToRoot();
      pushNames(pending, target);
      return 0;
    } finally {
      closeFd(linkFd);
    }
  };
  try {
    for (;;) {
      const dir = dirs[dirs.length - 1];
      const name = pending.pop();
      // The path (or the last symlink's target) ended in the directory reached: open that directory itself.
      if (name === undefined) return openatName(dir, CURRENT_DIR, flags | O_NOFOLLOW);
      if (name.length === 1 && name[0] === DOT) continue;
      if (name.length === 2 && name[0] === DOT && name[1] === DOT) {
        if (dirs.length > 1) closeFd(dirs.pop()!);
        continue;
      }
      if (name.length > NAME_MAX) return -ENAMETOOLONG;
      name.copy(nameBuffer);
      nameBuffer[name.length] = 0;
      if (pending.length > 0) {
        if (dirs.length > MAX_DEPTH) return -ENAMETOOLONG;
        // A directory on the way, or a symlink to one: a symlink fails O_DIRECTORY | O_NOFOLLOW with ENOTDIR.
        const fd = openatName(dir, nameBuffer, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
          dirs.push(fd);
          continue;
        }
        if (fd !== -ENOTDIR) return fd;
        const other = openatName(dir, nameBuffer, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (other < 0) return other;
        const n = readlinkOfFd(other, linkBuffer);
        if (n === -ENOENT && isDirectory(other)) {
          // A symlink a moment ago, swapped for a directory since: this descriptor is that directory.
          dirs.push(other);
          continue;
        }
        // Not a symlink (ENOENT from readlinkat): a file where a directory was needed.
        const err = follow(other, dir, n);
        if (err < 0) return err === -ENOENT && n === -ENOENT ? -ENOTDIR : err;
        continue;
      }
      // The last name: opened with the caller's flags, never following a symlink here (it is walked instead).
      const fd = openatName(dir, nameBuffer, flags | O_NOFOLLOW);
      if (fd < 0) {
        // ELOOP: a symlink, which a non-O_PATH open with O_NOFOLLOW refuses.
        if (fd !== -ELOOP || nofollow) return fd;
        const linkFd = openatName(dir, nameBuffer, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (linkFd < 0) return linkFd;
        const n = readlinkOfFd(linkFd, linkBuffer);
        if (n === -ENOENT) {
          // Swapped for something else since: look the name up again (counted as a link, so never endlessly).
          closeFd(linkFd);
          if (++links > MAX_SYMLINKS) return -ELOOP;
          pending.push(name);
          continue;
        }
        const err = follow(linkFd, dir, n);
        if (err < 0) return err;
        continue;
      }
      // Opened without O_PATH, it is not a symlink (O_NOFOLLOW would have failed); with O_PATH it may be one.
      if (nofollow || (flags & O_PATH) === 0) return fd;
      const n = readlinkOfFd(fd, linkBuffer);
      if (n === -ENOENT) return fd;
      const err = follow(fd, dir, n);
      if (err < 0) return err;
    }
  } finally {
    backToRoot();
  }
}

/** Queues the names of `path` (bytes) so that its first name is popped first; a trailing `/` asks for a directory. */
function pushNames(pending: Buffer[], path: Buffer): void {
  const names: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === SLASH) {
      if (i > start) names.push(path.subarray(start, i));
      start = i + 1;
    }
  }
  // "dir/" must be a directory (and a symlink there is followed): walked as "dir/.".
  if (path.length > 0 && path[path.length - 1] === SLASH && names.length > 0) names.push(CURRENT_DIR.subarray(0, 1));
  for (let i = names.length - 1; i >= 0; i--) pending.push(names[i]);
}

function isDirectory(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether the symlink `linkFd`, found in directory `dirFd`, may be a magic link: it is on procfs, anywhere but
 * procfs's top directory (where only ordinary links live). Unknown (fstatfs or fstat failing) counts as magic.
 */
function isMagicLinkCandidate(linkFd: number, dirFd: number): boolean {
  const type = fileSystemTypeOf(linkFd);
  if (type < 0) return true;
  if (type !== PROC_SUPER_MAGIC) return false;
  try {
    return fs.fstatSync(dirFd, { bigint: true }).ino !== PROC_ROOT_INO || fileSystemTypeOf(dirFd) !== PROC_SUPER_MAGIC;
  } catch {
    return true;
  }
}
