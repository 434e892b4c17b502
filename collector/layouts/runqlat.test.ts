import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  encodeRunqlatConfig,
  encodeRunqlatHistKey,
  RUNQLAT_CGROUP_ENTRIES,
  RUNQLAT_CGROUP_OVERFLOW,
  RUNQLAT_CONFIG_SIZE,
  RUNQLAT_HIST_KEY_SIZE,
  RUNQLAT_LOST_REASONS,
} from './runqlat.js';

const header = readFileSync(new URL('../../programs/runqlat.h', import.meta.url), 'utf8');
const define = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);

describe('runqlat layouts (programs/runqlat.h)', () => {
  it('encodes the key of the one histogram entry: u32 0', () => {
    expect(RUNQLAT_HIST_KEY_SIZE).toBe(4);
    expect(encodeRunqlatHistKey()).toEqual(Buffer.from([0, 0, 0, 0]));
  });
  it('names the lost counters in enum runqlat_lost_reason order', () => {
    const names = [...header.matchAll(/RUNQLAT_LOST_(\w+) = (\d+)/g)].filter((m) => m[1] !== 'REASONS').sort((a, b) => Number(a[2]) - Number(b[2]));
    expect(RUNQLAT_LOST_REASONS).toEqual(names.map((m) => `runqlat_${m[1].toLowerCase()}`));
    expect(RUNQLAT_LOST_REASONS).toEqual(['runqlat_start_map_full', 'runqlat_task_storage', 'runqlat_cgroup_map_full']);
  });
  it('mirrors the per-cgroup map bounds and struct runqlat_config', () => {
    expect(RUNQLAT_CGROUP_ENTRIES).toBe(define('RUNQLAT_CGROUP_ENTRIES'));
    expect(Number(RUNQLAT_CGROUP_OVERFLOW)).toBe(define('RUNQLAT_CGROUP_OVERFLOW'));
    expect(RUNQLAT_CONFIG_SIZE).toBe(4);
    expect(encodeRunqlatConfig({ perCgroup: true })).toEqual(Buffer.from([1, 0, 0, 0]));
    expect(encodeRunqlatConfig({ perCgroup: false })).toEqual(Buffer.from([0, 0, 0, 0]));
  });
});
