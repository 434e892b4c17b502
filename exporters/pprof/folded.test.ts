import { describe, expect, test } from 'vitest';
import { foldedFrameName, parseFolded, toFolded } from './folded.js';
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

describe('parseFolded', () => {
  test('round trip toFolded -> parseFolded', () => {
    const data = fixture();
    for (const s of data.samples.slice(0, 2)) s.frames[3] = { ...s.frames[3], functionName: 'weird;name\nwith newline' };
    const parsed = parseFolded(toFolded(data, { processFrame: 'comm-pid' }));
    expect(parsed.malformed).toBe(0);
    expect(parsed.errors).toEqual([]);
    expect(parsed.stacks).toEqual([
      { stack: ['app-100', 'main', 'Builtin:JSEntry', '0x7f0000002000', 'JS:*osprey_hot /srv/app.js:1:20'], count: 4 },
      { stack: ['app-100', 'main', 'weird:name with newline', '[libc.so.6+0x2a1b0]', 'schedule', 'finish_task_switch'], count: 5 },
      { stack: ['worker: v2-200', 'work', '0xdeadbeef', '[libc.so.6+0x2a1b0]', 'irq_exit'], count: 7 },
    ]);
  });

  test('malformed lines are counted with their line numbers, not thrown', () => {
    const text = [
      'a;b;c 10',
      'no_count_here',
      '',
      'a;b twelve',
      'a;;b 3',
      ' 5',
      'x;y -1',
      'js frame with spaces;leaf 2\r',
      'a;b 1.5',
    ].join('\n');
    const r = parseFolded(text);
    expect(r.stacks).toEqual([
      { stack: ['a', 'b', 'c'], count: 10 },
      { stack: ['js frame with spaces', 'leaf'], count: 2 },
      { stack: ['a', 'b'], count: 1.5 },
    ]);
    expect(r.malformed).toBe(5);
    expect(r.errors.map((e) => e.line)).toEqual([2, 4, 5, 6, 7]);
    expect(r.errors[0].reason).toBe('no count after the stack');
    expect(r.errors[1].reason).toMatch(/count "twelve" is not a non-negative number/);
  });

  test('keeps at most 100 error details but counts every malformed line', () => {
    const r = parseFolded('bad\n'.repeat(1000));
    expect(r.malformed).toBe(1000);
    expect(r.errors).toHaveLength(100);
  });
});
