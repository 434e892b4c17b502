// The block device a test's I/O lands on, named as the kernel keys block I/O (shared by the biolatency and io
// kernel tests).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { blockDeviceName } from '../biolatency.js';

/** The whole disk under the filesystem holding `path` (a partition resolves to its disk, as the kernel keys I/O). */
export function diskOf(path: string): { major: number; minor: number; name: string } {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '));
  const mount = mounts.filter((f) => f.length > 4 && path.startsWith(f[4])).sort((a, b) => b[4].length - a[4].length)[0];
  let devNo = mount[2];
  const sys = `/sys/dev/block/${devNo}`;
  if (!existsSync(sys)) throw new Error(`${path} is on ${mount[4]} (${devNo}), not a block device: run this test on a disk`);
  if (existsSync(`${sys}/partition`)) devNo = readFileSync(join(realpathSync(sys), '..', 'dev'), 'utf8').trim();
  const [major, minor] = devNo.split(':').map(Number);
  return { major, minor, name: blockDeviceName(major, minor) };
}
