// A hand-built CPU profile covering every frame kind, shared mappings and several processes.

import type { ProfileData, ProfileFrame, ProfileMapping, ProfileSample } from '../types.js';

export const PERIOD = 10_101_010; // 1e9 / 99 Hz, rounded
export const APP_BUILD_ID = 'deadbeef00112233445566778899aabbccddeeff';
export const LIBC_BUILD_ID = 'c0ffee0011223344556677889900aabbccddeeff';
export const WORKER_BUILD_ID = 'abcdef0123456789';

export const kernelMap: ProfileMapping = {
  file: '[kernel.kallsyms]', buildId: '', start: 0xffffffff81000000n, limit: 0xffffffff83000000n, offset: 0n, hasFunctions: true,
};
export const appMap: ProfileMapping = {
  file: '/usr/bin/app', buildId: APP_BUILD_ID, start: 0x1000n, limit: 0x5000n, offset: 0x1000n, hasFunctions: true,
};
export const libcMap: ProfileMapping = {
  file: '/usr/lib/x86_64-linux-gnu/libc.so.6', buildId: LIBC_BUILD_ID, start: 0x28000n, limit: 0x180000n, offset: 0x28000n, hasFunctions: false,
};
/** Same file and build-id as libcMap, another object with a wider range: must become the same mapping. */
export const libcMapCopy: ProfileMapping = { ...libcMap, start: 0x26000n, offset: 0x26000n, limit: 0x190000n };
export const jitMap: ProfileMapping = {
  file: '[jit]', buildId: '', start: 0x7f0000000000n, limit: 0x7f0000100000n, offset: 0n, hasFunctions: true,
};
export const workerMap: ProfileMapping = {
  file: '/opt/worker', buildId: WORKER_BUILD_ID, start: 0x400000n, limit: 0x500000n, offset: 0n, hasFunctions: true,
};

const k = (address: bigint, name: string, mapping: ProfileMapping | undefined = kernelMap): ProfileFrame => ({
  address, functionName: name, kind: 'kernel', mapping,
});

/** Fresh frame objects for the app's hot stack (leaf first), so dedupe must work by content. */
export function appStack(): ProfileFrame[] {
  return [
    k(0xffffffff81101234n, 'finish_task_switch'),
    k(0xffffffff81ab0010n, 'schedule'),
    { address: 0x2a1b0n, kind: 'native', mapping: libcMap },
    { address: 0x1140n, functionName: 'hot_loop', systemName: '_Z8hot_loopv', fileName: 'app.c', line: 12, kind: 'native', mapping: appMap },
    { address: 0x1200n, functionName: 'main', fileName: 'app.c', line: 30, kind: 'native', mapping: appMap },
  ];
}

const main = (): ProfileFrame => ({ address: 0x1200n, functionName: 'main', fileName: 'app.c', line: 30, kind: 'native', mapping: appMap });

export function fixture(): ProfileData {
  const samples: ProfileSample[] = [
    // Two samples with equal frames and labels: merged into one.
    { frames: appStack(), values: [3, 3 * PERIOD], numLabels: { pid: 100, tid: 100 }, strLabels: { comm: 'app' } },
    { frames: appStack(), values: [2, 2 * PERIOD], numLabels: { tid: 100, pid: 100 }, strLabels: { comm: 'app' } },
    // JIT frames: a symbolized one, an unsymbolized one, and the same address reused by other code.
    {
      frames: [
        { address: 0x7f0000001000n, functionName: 'JS:*osprey_hot /srv/app.js:1:20', kind: 'jit', mapping: jitMap },
        { address: 0x7f0000002000n, kind: 'jit', mapping: jitMap },
        { address: 0x7f0000001000n, functionName: 'Builtin:JSEntry', kind: 'jit', mapping: jitMap },
        main(),
      ],
      values: [4, 4 * PERIOD],
      numLabels: { pid: 100, tid: 101 },
      strLabels: { comm: 'app' },
    },
    // Another process sharing libc (another mapping object), an unknown frame and a kernel frame without mapping.
    {
      frames: [
        k(0xffffffff81c00000n, 'irq_exit', undefined),
        { address: 0x2a1b0n, kind: 'native', mapping: libcMapCopy },
        { address: 0xdeadbeefn, kind: 'unknown' },
        { address: 0x401000n, functionName: 'work', kind: 'native', mapping: workerMap },
      ],
      values: [7, 7 * PERIOD],
      numLabels: { pid: 200, tid: 200 },
      strLabels: { comm: 'worker; v2' },
    },
  ];
  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: PERIOD,
    timeNanos: 1_700_000_000_000_000_000n,
    durationNanos: 10_000_000_000n,
    samples,
    comments: ['hotpath test profile'],
  };
}
