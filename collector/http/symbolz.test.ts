import { describe, expect, test } from 'vitest';
import type { ProfileData, ProfileFrame } from '../../exporters/pprof/types.js';
import { MAX_QUERIED_ADDRESSES, MAX_REMEMBERED_ADDRESSES, parseAddress, SYMBOL_HEADER, SymbolTable } from './symbolz.js';

const f = (address: bigint, functionName?: string): ProfileFrame =>
  functionName === undefined ? { address, kind: 'native' } : { address, functionName, kind: 'native' };

function profile(...stacks: ProfileFrame[][]): ProfileData {
  return profileOf(stacks);
}

function profileOf(stacks: ProfileFrame[][]): ProfileData {
  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_101_010,
    timeNanos: 1_767_366_245_000_000_000n,
    durationNanos: 10_000_000_000n,
    samples: stacks.map((frames) => ({ frames, values: [1] })),
  };
}

/** One sample per address, each named `fn_<hex>`. */
function manyAddresses(first: bigint, count: number): ProfileData {
  const stacks: ProfileFrame[][] = [];
  for (let i = 0n; i < BigInt(count); i++) stacks.push([f(first + i, `fn_${(first + i).toString(16)}`)]);
  return profileOf(stacks);
}

function table(...profiles: ProfileData[]): SymbolTable {
  const t = new SymbolTable();
  for (const p of profiles) t.remember(p);
  return t;
}

describe('SymbolTable.answer', () => {
  const t = table(
    profile([f(0x4f1n, 'leaf'), f(0x5a2n, 'caller'), f(0x600n)], [f(0xffffffff81101234n, 'schedule')]),
    profile([f(0x5a2n, 'caller'), f(0x7000n, 'other_main')]),
  );

  test('starts with the header pprof checks', () => {
    expect(SYMBOL_HEADER).toBe('num_symbols: 1\n');
  });

  test('answers known addresses as 0x<hex> name lines, in query order, leaving unknown ones out', () => {
    expect(t.answer('0x5a2+0x123+0x4f1+0xffffffff81101234+0x7000')).toBe(
      'num_symbols: 1\n0x5a2 caller\n0x4f1 leaf\n0xffffffff81101234 schedule\n0x7000 other_main\n',
    );
  });

  test('an address whose frame was never named is not answered', () => {
    expect(t.lookup(0x600n)).toBeUndefined();
    expect(t.answer('0x600')).toBe('num_symbols: 1\n');
  });

  test('answers in lowercase hex without leading zeros whatever syntax the address came in', () => {
    expect(t.answer('0X00004F1+1265+0o2642+0b10110100010+02642')).toBe(
      'num_symbols: 1\n0x4f1 leaf\n0x4f1 leaf\n0x5a2 caller\n0x5a2 caller\n0x5a2 caller\n',
    );
  });

  test('an empty query, a trailing +, blank words and garbage still get the header', () => {
    expect(t.answer('')).toBe('num_symbols: 1\n');
    expect(t.answer('0x4f1+')).toBe('num_symbols: 1\n0x4f1 leaf\n');
    expect(t.answer('+++')).toBe('num_symbols: 1\n');
    expect(t.answer('zzz+0x+-0x4f1+0x4f1')).toBe('num_symbols: 1\n0x4f1 leaf\n');
  });

  test('words are trimmed, so a POST body ending in a newline works', () => {
    expect(t.answer('0x4f1+0x5a2\n')).toBe('num_symbols: 1\n0x4f1 leaf\n0x5a2 caller\n');
  });

  test('address 0 is never answered, even when a frame at 0 was named', () => {
    const zero = table(profile([f(0n, 'null_fn'), f(1n, 'one')]));
    expect(zero.lookup(0n)).toBe('null_fn');
    expect(zero.answer('0+0x0+00+1')).toBe('num_symbols: 1\n0x1 one\n');
  });

  test('an address two profiles name differently is ambiguous and never answered', () => {
    const shared = table(profile([f(0x1140n, 'hot_loop'), f(0x1200n, 'main')]), profile([f(0x1140n, 'parse_args')]));
    expect(shared.lookup(0x1140n)).toBeUndefined();
    expect(shared.answer('0x1140+0x1200')).toBe('num_symbols: 1\n0x1200 main\n');
    // Seeing the first name again does not make it unambiguous.
    shared.remember(profile([f(0x1140n, 'hot_loop')]));
    expect(shared.answer('0x1140')).toBe('num_symbols: 1\n');
    expect(shared.size).toBe(2);
  });

  test('two names for one address within one profile are ambiguous too', () => {
    expect(table(profile([f(0x10n, 'a')], [f(0x10n, 'b')])).answer('0x10')).toBe('num_symbols: 1\n');
  });

  test('the same name seen again stays answered', () => {
    const same = table(profile([f(0x10n, 'a')]), profile([f(0x10n, 'a'), f(0x20n, 'b')]));
    expect(same.answer('0x10+0x20')).toBe('num_symbols: 1\n0x10 a\n0x20 b\n');
    expect(same.size).toBe(2);
  });

  test('an address also seen unnamed is never answered (a stripped copy shares the named file layout)', () => {
    const t = table(profile([f(0x10n, 'a'), f(0x20n, 'b')]), profile([f(0x10n), f(0x30n)]));
    expect(t.answer('0x10+0x20+0x30')).toBe('num_symbols: 1\n0x20 b\n');
    const reversed = table(profile([f(0x10n)]), profile([f(0x10n, 'a')]));
    expect(reversed.answer('0x10')).toBe('num_symbols: 1\n');
  });

  test(`reads at most MAX_QUERIED_ADDRESSES (${MAX_QUERIED_ADDRESSES}) words of one query`, () => {
    expect(MAX_QUERIED_ADDRESSES).toBe(100_000);
    const words = Array.from({ length: MAX_QUERIED_ADDRESSES - 1 }, () => '0x123');
    expect(t.answer([...words, '0x4f1', '0x5a2'].join('+'))).toBe('num_symbols: 1\n0x4f1 leaf\n');
    // Empty words count against the bound as well.
    expect(t.answer(`${'+'.repeat(MAX_QUERIED_ADDRESSES)}0x4f1`)).toBe('num_symbols: 1\n');
    expect(t.answer(`${'+'.repeat(MAX_QUERIED_ADDRESSES - 1)}0x4f1`)).toBe('num_symbols: 1\n0x4f1 leaf\n');
  });
});

describe('SymbolTable memory bound', () => {
  test(`remembers up to MAX_REMEMBERED_ADDRESSES (${MAX_REMEMBERED_ADDRESSES}) addresses`, () => {
    expect(MAX_REMEMBERED_ADDRESSES).toBe(200_000);
    const t = table(manyAddresses(0x1000n, MAX_REMEMBERED_ADDRESSES));
    expect(t.size).toBe(MAX_REMEMBERED_ADDRESSES);
    expect(t.lookup(0x1000n)).toBe('fn_1000');
    expect(t.lookup(0x1000n + BigInt(MAX_REMEMBERED_ADDRESSES - 1))).toBe(`fn_${(0x1000n + BigInt(MAX_REMEMBERED_ADDRESSES - 1)).toString(16)}`);
  });

  test('starts again before a profile that would not fit, never in the middle of it', () => {
    const t = table(manyAddresses(0x1000n, MAX_REMEMBERED_ADDRESSES - 1));
    const next = 0x1000_0000n;
    t.remember(manyAddresses(next, 10));
    expect(t.size).toBe(10);
    expect(t.lookup(0x1000n)).toBeUndefined();
    expect(t.answer('0x1000+0x10000000+0x10000009')).toBe(
      'num_symbols: 1\n0x10000000 fn_10000000\n0x10000009 fn_10000009\n',
    );
  });

  test('one profile larger than the bound keeps its first addresses and never leaves the table above it', () => {
    const t = table(manyAddresses(0x1000n, MAX_REMEMBERED_ADDRESSES + 5));
    expect(t.size).toBe(MAX_REMEMBERED_ADDRESSES);
    expect(t.lookup(0x1000n)).toBe('fn_1000');
    const last = 0x1000n + BigInt(MAX_REMEMBERED_ADDRESSES + 4);
    expect(t.lookup(last)).toBeUndefined();
  });

  test('addresses already known do not restart a full table', () => {
    const t = table(manyAddresses(0x1000n, MAX_REMEMBERED_ADDRESSES));
    t.remember(profile([f(0x1000n, 'fn_1000'), f(0x1001n, 'renamed')]));
    expect(t.size).toBe(MAX_REMEMBERED_ADDRESSES);
    expect(t.lookup(0x1000n)).toBe('fn_1000');
    expect(t.lookup(0x1001n)).toBeUndefined();
  });
});

describe('parseAddress (strconv.ParseUint(s, 0, 64))', () => {
  test.each([
    ['0x4f1', 0x4f1n],
    ['0X4F1', 0x4f1n],
    ['0xdeadBEEF', 0xdeadbeefn],
    ['0x0', 0n],
    ['0xffffffffffffffff', 0xffffffffffffffffn],
    [`0x${'0'.repeat(63)}1`, 1n], // 64 digits
    ['017', 0o17n],
    ['0o17', 0o17n],
    ['0O17', 0o17n],
    ['00', 0n],
    ['01777777777777777777777', 0xffffffffffffffffn],
    ['0b101', 5n],
    ['0B101', 5n],
    [`0b${'1'.repeat(64)}`, 0xffffffffffffffffn],
    ['0', 0n],
    ['1', 1n],
    ['1265', 1265n],
    ['18446744073709551615', 0xffffffffffffffffn],
  ])('accepts %s', (word, value) => {
    expect(parseAddress(word)).toBe(value);
  });

  test.each([
    '',
    'x',
    'garbage',
    '0x',
    '0X',
    '0o',
    '0b',
    '0xg',
    '0x-1',
    '-1',
    '-0x1',
    '+1',
    ' 1',
    '1 ',
    '08',
    '019',
    '0o8',
    '0b2',
    '1.5',
    '1e3',
    '0x10000000000000000', // 2^64
    '18446744073709551616', // 2^64
    '99999999999999999999999',
    '02000000000000000000000', // 2^64 in octal
    `0b1${'0'.repeat(64)}`, // 2^64 in binary
    '0xffffffffffffffff0',
  ])('rejects %j', (word) => {
    expect(parseAddress(word)).toBeUndefined();
  });
});
