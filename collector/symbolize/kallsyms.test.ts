import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKallsyms } from './kallsyms.js';

const SAMPLE = [
  'ffffffff81000000 T _stext',
  'ffffffff81000000 T srso_alias_untrain_ret',
  'ffffffff81001000 t __pfx_do_one_initcall',
  'ffffffff81001010 T do_one_initcall',
  'ffffffff81002000 D some_data',
  'ffffffff81002100 W weak_func',
  'ffffffff81003000 T do_syscall_64',
  'garbage line',
  'ffffffff8100zz00 T bad_hex',
  'ffffffff81004000 T',
  '',
  'ffffffffc0a01000 t ext4_fill_super\t[ext4]',
  'ffffffffc0a00000 t ext4_init_fs\t[ext4]', // modules are not sorted in kallsyms
  'ffffffffc0b00000 T xfs_bmap with spaces?\t[xfs]',
  'ffffffffc0c00000 b bss_only\t[xfs]',
].join('\n');

describe('parseKallsyms', () => {
  const t = parseKallsyms(SAMPLE);

  it('keeps text symbols, sorted, with module names', () => {
    expect(t.restricted).toBe(false);
    expect(t.symbolCount).toBe(8); // _stext/srso share an address; D and b are not text
    expect(t.malformedLines).toBe(3);
    expect(t.range).toEqual({ min: 0xffffffff81000000n, max: 0xffffffffc0b00000n });
    expect(t.lookup(0xffffffff81003000n)).toEqual({ name: 'do_syscall_64', module: undefined, address: 0xffffffff81003000n });
    expect(t.lookup(0xffffffff81003abcn)?.name).toBe('do_syscall_64');
    expect(t.lookup(0xffffffff81001010n + 5n)?.name).toBe('do_one_initcall');
    expect(t.lookup(0xffffffff81001004n)?.name).toBe('__pfx_do_one_initcall');
    expect(t.lookup(0xffffffff81002200n)?.name).toBe('weak_func');
    expect(t.lookup(0xffffffffc0a00010n)).toEqual({ name: 'ext4_init_fs', module: 'ext4', address: 0xffffffffc0a00000n });
    expect(t.lookup(0xffffffffc0a01fffn)).toMatchObject({ name: 'ext4_fill_super', module: 'ext4' });
    expect(t.lookup(0xffffffffc0b00001n)).toMatchObject({ name: 'xfs_bmap with spaces?', module: 'xfs' });
  });

  it('leaves addresses outside the table unnamed', () => {
    expect(t.lookup(0xffffffff80ffffffn)).toBeUndefined();
    expect(t.lookup(0n)).toBeUndefined();
    expect(t.lookup(0xffffffffc0b00000n + (1n << 21n))).toBeUndefined(); // far past the last symbol
  });

  it('reports kptr_restrict (all addresses zero)', () => {
    const r = parseKallsyms('0000000000000000 T _stext\n0000000000000000 t do_syscall_64\n0000000000000000 D x\n');
    expect(r.restricted).toBe(true);
    expect(r.symbolCount).toBe(0);
    expect(r.lookup(0xffffffff81000000n)).toBeUndefined();
    expect(parseKallsyms('').restricted).toBe(false);
  });

  it('bounds input and symbol count', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `ffffffff81${(i * 16).toString(16).padStart(6, '0')} T f${i}`).join('\n');
    expect(parseKallsyms(many, { maxSymbols: 10 }).symbolCount).toBe(10);
    const cut = parseKallsyms(many, { maxChars: 100 });
    expect(cut.truncated).toBe(true);
    expect(cut.symbolCount).toBeLessThan(5);
  });

  it('parses the running kernel and finds its syscall entry points', () => {
    const text = fs.readFileSync('/proc/kallsyms', 'utf8');
    const t0 = performance.now();
    const real = parseKallsyms(text);
    const ms = performance.now() - t0;
    console.log(`kallsyms: ${real.symbolCount} text symbols in ${ms.toFixed(0)} ms`);
    expect(real.restricted).toBe(false);
    expect(real.symbolCount).toBeGreaterThan(10000);
    const line = /^([0-9a-f]+) T __x64_sys_read$/m.exec(text)!;
    const addr = BigInt('0x' + line[1]);
    expect(real.lookup(addr)?.name).toBe('__x64_sys_read');
    expect(real.lookup(addr + 3n)?.name).toBe('__x64_sys_read');
    expect(ms).toBeLessThan(3000);
  });
});
