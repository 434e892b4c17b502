// Where the compiled BPF objects are: dist/programs/ beside the compiled collector (dist/collector/bpf/ → dist/programs/),
// or from the TypeScript sources under test (collector/bpf/ → dist/programs/). HOTPATH_PROGRAMS_DIR replaces both.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, HotpathError } from '../errors.js';

const here = dirname(fileURLToPath(import.meta.url));

export function programObjectPath(name: string): string {
  // An explicit directory is the only place looked in, so a deployment never loads objects from elsewhere.
  const dirs = process.env.HOTPATH_PROGRAMS_DIR
    ? [process.env.HOTPATH_PROGRAMS_DIR]
    : [join(here, '..', '..', 'programs'), join(here, '..', '..', 'dist', 'programs')];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, `${name}.bpf.o`);
    if (existsSync(path)) return path;
  }
  throw new HotpathError(
    ErrorCodes.OPEN_OBJECT,
    `find BPF object ${name}.bpf.o: not built (run \`npm run build\`; looked in ${dirs.join(', ')})`,
  );
}
