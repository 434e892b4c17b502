// parseCpuList lives in the FFI module: importing it loads libbpf.so.1 and libc through koffi, which needs
// no privileges (nothing is opened in the kernel until a BPF object is loaded).
import { describe, expect, test } from 'vitest';
import { parseCpuList } from './libbpf.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('parseCpuList', () => {
  test.each([
    ['0', [0]],
    ['0\n', [0]],
    ['0-3', [0, 1, 2, 3]],
    ['0-3,5', [0, 1, 2, 3, 5]],
    ['0,2-3\n', [0, 2, 3]],
    ['1,3,5-6,8', [1, 3, 5, 6, 8]],
    ['4-4', [4]],
    ['  0-1  \n', [0, 1]],
    ['0-63', range(0, 63)],
    ['0-3,8-11\n', [0, 1, 2, 3, 8, 9, 10, 11]],
  ])('%j', (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });

  test.each([
    ['', []],
    ['\n', []],
    ['0,', [0]],
    ['0-3,', [0, 1, 2, 3]],
    [',0', [0]],
    ['0,,2', [0, 2]],
  ])('empty parts are skipped: %j', (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });

  test.each([
    ['x', []],
    ['x,1', [1]],
    ['-1', []],
    ['-', []],
    ['3-1', []],
    ['2-x', [2]], // an unreadable end reads as a single CPU
    ['2-', [2]],
  ])('malformed parts give no CPUs of their own: %j', (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });

  test('a huge range stops at 65536 CPUs', () => {
    const cpus = parseCpuList('0-4294967295');
    expect(cpus.length).toBe(65536);
    expect(cpus[0]).toBe(0);
    expect(cpus[65535]).toBe(65535);
  });

  test('the 65536 bound holds across parts', () => {
    // 65531 from the first range, one single CPU, then 4 of the last range's 6.
    expect(parseCpuList('10-65540,70000,80000-80005')).toEqual([...range(10, 65540), 70000, 80000, 80001, 80002, 80003]);
    expect(parseCpuList('0-65534,100000,100001,100002')).toEqual([...range(0, 65534), 100000]);
  });
});
