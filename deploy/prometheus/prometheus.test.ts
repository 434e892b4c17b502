// deploy/prometheus/ checked by the real promtool: the configuration and the rules parse, and the unit tests
// in rules.test.yml pass. Each alert's tests are shown to bite: with that alert silenced (its expression
// made one that never fires) promtool test rules fails.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { deployDir } from '../deploy-files.js';

const dir = join(deployDir, 'prometheus');

function promtool(args: string[]): { code: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, output: r.stdout + r.stderr };
}

interface RuleGroups {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

const rules = YAML.parse(readFileSync(join(dir, 'rules.yml'), 'utf8')) as RuleGroups;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.alert!);

describe('deploy/prometheus/', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'hotpath-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prometheus.yml passes promtool check config, rules.yml included', () => {
    const r = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    expect(r.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(r.code, r.output).toBe(0);
  });

  it('rules.yml passes promtool check rules, with the alerts the issue asks for', () => {
    const r = promtool(['check', 'rules', join(dir, 'rules.yml')]);
    expect(r.code, r.output).toBe(0);
    expect(alerts).toEqual(expect.arrayContaining(['HotpathDown', 'HotpathLostSamplesRising', 'HotpathDrainStalled', 'HotpathRunqueueP99High']));
  });

  it('rules.test.yml passes promtool test rules', () => {
    const r = promtool(['test', 'rules', join(dir, 'rules.test.yml')]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.code, r.output).toBe(0);
  });

  it.each(alerts)('promtool test rules fails with %s silenced', (alert) => {
    const silenced = structuredClone(rules);
    for (const rule of silenced.groups.flatMap((g) => g.rules)) if (rule.alert === alert) rule.expr = 'vector(1) == 0';
    writeFileSync(join(scratch, 'rules.yml'), YAML.stringify(silenced));
    copyFileSync(join(dir, 'rules.test.yml'), join(scratch, 'rules.test.yml'));
    const r = promtool(['test', 'rules', join(scratch, 'rules.test.yml')]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`alertname: ${alert}`);
  });

  it('promtool test rules fails when a quiet case fires (every alert made to fire always)', () => {
    const loud = structuredClone(rules);
    for (const rule of loud.groups.flatMap((g) => g.rules)) if (rule.alert) rule.expr = `${rule.expr.trim()} or vector(1)`;
    writeFileSync(join(scratch, 'rules.yml'), YAML.stringify(loud));
    copyFileSync(join(dir, 'rules.test.yml'), join(scratch, 'rules.test.yml'));
    expect(promtool(['test', 'rules', join(scratch, 'rules.test.yml')]).code).toBe(1);
  });
});
