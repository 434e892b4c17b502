import { describe, expect, it } from 'vitest';
import { buildPprof, filterByPid, mergeProfileData, type ProfileData } from '../../exporters/pprof/index.js';
import { fixture } from '../../exporters/pprof/test-support/fixture.js';
import type { ProfileSelection } from '../agent/agent.js';
import { WindowStore } from '../windows/window-store.js';
import { buildSelectionSteps } from './profile-build.js';

function drive<T>(g: Generator<void, T>): { value: T; yields: number } {
  let yields = 0;
  let r = g.next();
  while (!r.done) {
    yields++;
    r = g.next();
  }
  return { value: r.value, yields };
}

/** Windows of 10 s one after another, each a fresh copy of the fixture (fresh frame objects, as drains make). */
function windows(n: number): ProfileData[] {
  return Array.from({ length: n }, (_, i) => {
    const w = fixture();
    w.timeNanos += BigInt(i) * w.durationNanos;
    return w;
  });
}

/** The windows as the agent holds them: stored (ids into the store's catalog), not as given. */
function selection(ws: ProfileData[], pids: number[] = []): ProfileSelection {
  const { sampleTypes, periodType, period } = fixture();
  const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
  const stored = ws.map((w) => store.add(w, w.timeNanos + w.durationNanos));
  return { kind: 'cpu', header: { sampleTypes, periodType, period }, fromNs: 1n, toNs: 2n, pids, windows: stored, catalog: store.catalog };
}

describe('buildSelectionSteps', () => {
  it('gives the profile that merging the windows and building them gives, in steps', () => {
    const ws = windows(40);
    const { value, yields } = drive(buildSelectionSteps(selection(ws)));
    const expected = buildPprof(mergeProfileData(ws));
    expect(Buffer.from(value.profile.encode()).equals(Buffer.from(expected.encode()))).toBe(true);
    expect(BigInt(value.profile.durationNanos)).toBe(400_000_000_000n);
    // Summed by ids before the builder sees them: of 160 window samples, 3 distinct ones (4 label entries: the
    // fixture sets one sample's labels in another order; the builder merges those).
    expect(value.stats).toMatchObject({ windows: 40, windowsSkipped: 0, samplesIn: 4, samplesOut: 3, samplesGone: 0 });
    expect(yields).toBeGreaterThanOrEqual(0);
  });

  it('keeps only the pids asked for', () => {
    const ws = windows(3);
    const { value } = drive(buildSelectionSteps(selection(ws, [200])));
    const expected = buildPprof(filterByPid(mergeProfileData(ws), [200]));
    expect(Buffer.from(value.profile.encode()).equals(Buffer.from(expected.encode()))).toBe(true);
    expect(value.profile.sample).toHaveLength(1);
  });

  it('an empty selection spans what was asked; windows of other sample types are skipped', () => {
    const empty = drive(buildSelectionSteps(selection([]))).value.profile;
    expect([BigInt(empty.timeNanos), BigInt(empty.durationNanos), empty.sample.length]).toEqual([1n, 1n, 0]);
    const other = { ...fixture(), period: 1 };
    const { value } = drive(buildSelectionSteps(selection([other, ...windows(1)])));
    expect(value.stats.windowsSkipped).toBe(1);
    expect(value.profile.sample).toHaveLength(3);
  });
});
