// The deployment files are checked by the real tools that consume them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

describe('deploy/', () => {
  it('prometheus.yml passes promtool check config', () => {
    const out = execFileSync('promtool', ['check', 'config', join(here, 'prometheus.yml')], { encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(/SUCCESS/);
  });

  it('the systemd unit and the DaemonSet run the agent on the contract port and probe /healthz', () => {
    const unit = readFileSync(join(here, 'hotpath.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=.*cli\.js serve .*--port 9464/m);
    const ds = readFileSync(join(here, 'kubernetes', 'daemonset.yaml'), 'utf8');
    expect(ds).toMatch(/hostPID: true/);
    expect(ds).toMatch(/path: \/healthz/);
  });
});
