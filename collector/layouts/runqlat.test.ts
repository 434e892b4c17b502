import { describe, expect, it } from 'vitest';
import { encodeRunqlatHistKey, RUNQLAT_HIST_KEY_SIZE, RUNQLAT_LOST_REASONS } from './runqlat.js';

describe('runqlat layouts (programs/runqlat.h)', () => {
  it('encodes the key of the one histogram entry: u32 0', () => {
    expect(RUNQLAT_HIST_KEY_SIZE).toBe(4);
    expect(encodeRunqlatHistKey()).toEqual(Buffer.from([0, 0, 0, 0]));
  });
  it('names the lost counters in enum runqlat_lost_reason order', () => {
    expect(RUNQLAT_LOST_REASONS).toEqual(['runqlat_start_map_full', 'runqlat_task_storage']);
  });
});
