import { describe, expect, test } from 'vitest';
import { parseFoldedDetailed } from '../../flamegraph/index.js';
import { foldedFrameName, toFolded } from './folded.js';
import { fixture, libcMap, PERIOD } from './test-support/fixture.js';

describe('toFolded', () => {
  test('root first, process as root frame, identical stacks summed, sorted, sanitized', () => {
    expect(toFolded(fixture())).toBe(
      [
        'app;main;Builtin:JSEntry;0x7f0000002000;JS:*osprey_hot /srv/app.js:1:20 4',
        'app;main;hot_loop;[libc.so.6+0x2a1b0];schedule;finish_task_switch 5',
        'worker: v2;work;0xdeadbeef;[libc.so.6+0x2a1b0];irq_exit 7',
        '',
      ].join('\n'),
    );
  });

  test('options: value index, comm-pid, no process frame, kind annotations', () => {
    const data = fixture();
    const cpu = toFolded(data, { valueIndex: 1, processFrame: 'comm-pid', annotateKind: true });
    expect(cpu).toContain(`app-100;main;hot_loop;[libc.so.6+0x2a1b0];schedule_[k];finish_task_switch_[k] ${5 * PERIOD}\n`);
    expect(cpu).toContain(`app-100;main;Builtin:JSEntry_[j];0x7f0000002000_[j];JS:*osprey_hot /srv/app.js:1:20_[j] ${4 * PERIOD}\n`);
    expect(cpu).toContain(`worker: v2-200;work;0xdeadbeef;[libc.so.6+0x2a1b0];irq_exit_[k] ${7 * PERIOD}\n`);
    const bare = toFolded(data, { processFrame: 'none' });
    expect(bare.split('\n')[0]).toBe('main;Builtin:JSEntry;0x7f0000002000;JS:*osprey_hot /srv/app.js:1:20 4');
    // Two processes with the same stack merge once the process frame is gone.
    data.samples.push({ ...data.samples[0], numLabels: { pid: 300, tid: 300 }, strLabels: { comm: 'other' } });
    expect(toFolded(data, { processFrame: 'none' })).toContain('main;hot_loop;[libc.so.6+0x2a1b0];schedule;finish_task_switch 8\n');
    expect(toFolded(data, { valueIndex: 5 })).toBe('');
  });

  test('frame names: newlines, semicolons, empty names', () => {
    expect(foldedFrameName({ address: 1n, functionName: 'a;b\nc\r\td', kind: 'native' })).toBe('a:b c  d');
    expect(foldedFrameName({ address: 0x10n, functionName: '', kind: 'native', mapping: libcMap })).toBe('[libc.so.6+0x10]');
    expect(foldedFrameName({ address: 0xffn, kind: 'kernel', mapping: { ...libcMap, file: '[kernel.kallsyms]' } })).toBe('0xff');
  });
});

// A cross-check, not a dependency: flamegraph/folded.ts holds the one reader of the format, and what
// `hotpath record --output x.folded` writes must read back there (`hotpath flamegraph x.folded`).
describe('toFolded output read by the flamegraph parser', () => {
  test('names, values and annotated kinds come back; odd names stay one frame', () => {
    const data = fixture();
    for (const s of data.samples.slice(0, 2)) s.frames[3] = { ...s.frames[3], functionName: 'weird;name\nwith newline' };
    const parsed = parseFoldedDetailed(toFolded(data, { processFrame: 'comm-pid', annotateKind: true }));
    expect(parsed.malformedLines).toBe(0);
    const names = (kind?: string) => parsed.stacks.map((s) => s.frames.filter((f) => !kind || f.kind === kind).map((f) => f.name));
    expect(names()).toEqual([
      ['app-100', 'main', 'Builtin:JSEntry', '0x7f0000002000', 'JS:*osprey_hot /srv/app.js:1:20'],
      ['app-100', 'main', 'weird:name with newline', '[libc.so.6+0x2a1b0]', 'schedule', 'finish_task_switch'],
      ['worker: v2-200', 'work', '0xdeadbeef', '[libc.so.6+0x2a1b0]', 'irq_exit'],
    ]);
    expect(names('kernel')).toEqual([[], ['schedule', 'finish_task_switch'], ['irq_exit']]);
    expect(names('jit')).toEqual([['Builtin:JSEntry', '0x7f0000002000', 'JS:*osprey_hot /srv/app.js:1:20'], [], []]);
    expect(parsed.stacks.map((s) => s.value)).toEqual([4, 5, 7]);
  });
});
