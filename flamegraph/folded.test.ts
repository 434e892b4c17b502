import { describe, expect, test } from 'vitest';
import { buildTree, classifyFrame, formatFolded, formatValue, parseFolded, parseFoldedDetailed } from './index.js';

describe('parseFolded', () => {
  test('reads stacks root first, kind suffixes, names with spaces; counts malformed lines', () => {
    const text = [
      'main;read;sys_read_[k] 5',
      '',
      'node;JS:*hot /app/x.js:1:2;Builtin:CallFunction 7\r',
      'main;lib_inline_[i];jitted_[j] 2.5',
      'no count here',
      'main;bad -3',
      'main;bad 12abc',
      '   ',
      'main 1',
    ].join('\n');
    const r = parseFoldedDetailed(text);
    expect(r.malformedLines).toBe(3);
    expect(r.firstMalformedLine).toBe(5);
    expect(r.stacks).toEqual([
      { frames: [{ name: 'main', kind: 'native' }, { name: 'read', kind: 'native' }, { name: 'sys_read', kind: 'kernel' }], value: 5 },
      { frames: [{ name: 'node', kind: 'native' }, { name: 'JS:*hot /app/x.js:1:2', kind: 'jit' }, { name: 'Builtin:CallFunction', kind: 'jit' }], value: 7 },
      { frames: [{ name: 'main', kind: 'native' }, { name: 'lib_inline', kind: 'native' }, { name: 'jitted', kind: 'jit' }], value: 2.5 },
      { frames: [{ name: 'main', kind: 'native' }], value: 1 },
    ]);
    expect(parseFolded(text)).toEqual(r.stacks);
  });

  test('a word for a count or no stack is malformed; empty frames are dropped', () => {
    const r = parseFoldedDetailed(['a;b twelve', ' 5', 'a;;b 3', 'x;y -1'].join('\n'));
    expect(r.malformedLines).toBe(3);
    expect(r.firstMalformedLine).toBe(1);
    expect(r.stacks).toEqual([{ frames: [{ name: 'a', kind: 'native' }, { name: 'b', kind: 'native' }], value: 3 }]);
  });

  test('formatFolded round-trips kinds', () => {
    const stacks = parseFolded('a;b_[k];c_[j] 3\nx;[unknown] 1\n');
    expect(formatFolded(stacks)).toBe('a;b_[k];c_[j] 3\nx;[unknown] 1\n');
    expect(parseFolded(formatFolded(stacks))).toEqual(stacks);
    expect(stacks[1].frames[1].kind).toBe('unknown');
  });

  test('classifyFrame', () => {
    expect(classifyFrame('schedule', '[kernel.kallsyms]')).toBe('kernel');
    expect(classifyFrame('foo [k]')).toBe('kernel');
    expect(classifyFrame('anything', '[jit]')).toBe('jit');
    expect(classifyFrame('LazyCompile:~f /a.js:3')).toBe('jit');
    expect(classifyFrame('render', '/usr/bin/node', '/srv/app.mjs')).toBe('jit');
    expect(classifyFrame('', '/usr/bin/app')).toBe('unknown');
    expect(classifyFrame('memcpy', '/lib/libc.so.6')).toBe('native');
  });
});

describe('buildTree', () => {
  test('merges prefixes, sorts children by name, keeps values; deep stacks do not overflow', () => {
    const { root } = buildTree(parseFolded('m;b 2\nm;a 3\nm;b;c 4\nm 1\n'));
    expect(root.value).toBe(10);
    const m = root.children[0];
    expect(m.name).toBe('m');
    expect(m.self).toBe(1);
    expect(m.children.map((c) => [c.name, c.value, c.self])).toEqual([['a', 3, 3], ['b', 6, 2]]);
    const deep = Array.from({ length: 5000 }, (_, i) => `f${i % 7}`).join(';');
    const t = buildTree(parseFolded(`${deep} 1\n`), { maxDepth: 3000 });
    expect(t.truncatedStacks).toBe(1);
    let depth = 0;
    for (let n = t.root; n.children.length > 0; n = n.children[0]) depth++;
    expect(depth).toBe(3000);
  });
});

test('formatValue is unit-aware', () => {
  expect(formatValue(1234567, 'count')).toBe('1,234,567 samples');
  expect(formatValue(1, 'count')).toBe('1 sample');
  expect(formatValue(2_500_000_000, 'nanoseconds')).toBe('2.5 s');
  expect(formatValue(12_340_000, 'nanoseconds')).toBe('12.34 ms');
  expect(formatValue(3 * 1024 * 1024, 'bytes')).toBe('3 MiB');
});
