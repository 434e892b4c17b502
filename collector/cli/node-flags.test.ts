import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test-support/kernel.js';
import { missingServeNodeFlags, SERVE_NODE_FLAGS } from './node-flags.js';

describe('the Node.js flags of hotpath serve', () => {
  it('finds them given in either spelling, with any value, and names the ones missing', () => {
    expect(missingServeNodeFlags([])).toEqual([...SERVE_NODE_FLAGS]);
    expect(missingServeNodeFlags(['--max-semi-space-size=4'])).toEqual([]);
    expect(missingServeNodeFlags(['--max-semi-space-size=8', '--inspect'])).toEqual([]);
    expect(missingServeNodeFlags(['--max_semi_space_size=2'])).toEqual([]);
    expect(missingServeNodeFlags(['--max-old-space-size=4'])).toEqual([...SERVE_NODE_FLAGS]);
  });

  it('is what every way of launching the agent passes', () => {
    const read = (p: string) => readFileSync(join(repoRoot, p), 'utf8');
    const flags = SERVE_NODE_FLAGS.join(' ');
    expect(read('collector/cli.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    expect(JSON.parse(read('package.json')).scripts.start).toBe(`node ${flags} dist/collector/cli.js serve`);
    expect(read('deploy/systemd/hotpath.service')).toContain(`ExecStart=/usr/bin/node ${flags} /opt/hotpath/dist/collector/cli.js serve`);
    expect(read('deploy/Dockerfile')).toContain(`ENTRYPOINT ["node", ${SERVE_NODE_FLAGS.map((f) => JSON.stringify(f)).join(', ')}, "/opt/hotpath/dist/collector/cli.js"]`);
  });
});
