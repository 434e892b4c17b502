import { describe, expect, it } from 'vitest';
import { HotpathError } from '../errors.js';
import { parseBytes, parseChoice, parseDuration, parseInteger, parsePids } from './flags.js';

describe('flag parsers', () => {
  it('parses durations in every unit, a bare number being seconds', () => {
    expect(parseDuration('--d', '10')).toBe(10);
    expect(parseDuration('--d', '1.5m')).toBe(90);
    expect(parseDuration('--d', '1h')).toBe(3600);
    expect(parseDuration('--d', '250ms')).toBeCloseTo(0.25);
    expect(parseDuration('--d', '1us')).toBeCloseTo(1e-6);
  });

  it.each(['', 'soon', '-1', '0', '1x', '1 h', 'NaN'])('refuses the duration %j with a usage error naming the flag', (v) => {
    expect(() => parseDuration('--window', v)).toThrow(/--window/);
    try {
      parseDuration('--window', v);
    } catch (err) {
      expect((err as HotpathError).code).toBe('HP_ERR_USAGE');
    }
  });

  it('parses bounded integers, pid lists, sizes and choices', () => {
    expect(parseInteger('--hz', '99', 1, 10_000)).toBe(99);
    expect(() => parseInteger('--hz', '0', 1, 10_000)).toThrow(/between 1 and 10000/);
    expect(() => parseInteger('--hz', '9.5', 1, 10_000)).toThrow(/whole number/);
    expect(parsePids('--pid', ['1,2', '2', '30'])).toEqual([1, 2, 30]);
    expect(() => parsePids('--pid', ['abc'])).toThrow(/--pid/);
    expect(parseBytes('--m', '256M')).toBe(256 * 1024 ** 2);
    expect(parseBytes('--m', '1GiB')).toBe(1024 ** 3);
    expect(() => parseBytes('--m', 'lots')).toThrow(/--m/);
    expect(parseChoice('--type', 'cpu', ['cpu', 'offcpu'])).toBe('cpu');
    expect(() => parseChoice('--type', 'gpu', ['cpu', 'offcpu'])).toThrow(/one of cpu, offcpu/);
  });
});
