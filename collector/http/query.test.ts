import { describe, expect, test } from 'vitest';
import { ErrorCodes, HotpathError } from '../errors.js';
import { DEFAULT_LIVE_SECONDS, MAX_LIVE_SECONDS, parseLabelFilters, parseProfileQuery, parseTimestamp, QueryError, type ProfileQuery } from './query.js';

const S = 1_000_000_000n;
/** 2026-01-02T15:04:05Z. */
const NOW_S = 1_767_366_245n;
const NOW = NOW_S * S;
const RETENTION = 3600n * S;

/** The QueryError `fn` throws; fails the test when it throws nothing or something else. */
function queryError(fn: () => unknown): QueryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    expect(err).toBeInstanceOf(HotpathError);
    expect((err as QueryError).code).toBe(ErrorCodes.QUERY);
    expect((err as QueryError).name).toBe('QueryError');
    return err as QueryError;
  }
  throw new Error('expected a QueryError, nothing was thrown');
}

function query(search: string, nowNs = NOW, retentionNs = RETENTION): ProfileQuery {
  return parseProfileQuery(new URLSearchParams(search), 'cpu', nowNs, retentionNs);
}

function queryFails(search: string, nowNs = NOW, retentionNs = RETENTION): QueryError {
  return queryError(() => query(search, nowNs, retentionNs));
}

describe('parseTimestamp', () => {
  test.each([
    ['0', 0n],
    ['1', S],
    ['1767366245', NOW],
    ['999999999999', 999_999_999_999n * S],
    ['1767366245.5', NOW + 500_000_000n],
    ['1767366245.05', NOW + 50_000_000n],
    ['1.000000001', S + 1n],
    ['1767366245.123456789', NOW + 123_456_789n],
    ['0007', 7n * S],
  ])('unix seconds %s', (text, ns) => {
    expect(parseTimestamp('from', text)).toBe(ns);
  });

  test.each([
    ['2026-01-02T15:04:05Z', NOW],
    ['1970-01-01T00:00:00Z', 0n],
    ['2026-01-02T15:04:05+00:00', NOW],
    ['2026-01-02T15:04:05-00:00', NOW],
    ['2026-01-02T20:34:05+05:30', NOW],
    ['2026-01-02T08:04:05-07:00', NOW],
    ['2026-01-02T15:04:05.5Z', NOW + 500_000_000n],
    ['2026-01-02T15:04:05.123Z', NOW + 123_000_000n],
    ['2026-01-02T15:04:05.123456789Z', NOW + 123_456_789n],
    ['2026-01-02T15:04:05.000000001+01:00', NOW - 3600n * S + 1n],
    ['2026-01-02t15:04:05z', NOW],
    ['2026-01-02t15:04:05Z', NOW],
    ['2026-01-02 15:04:05Z', NOW],
    ['2024-02-29T00:00:00Z', 1_709_164_800n * S],
    // Before the epoch the fraction still counts forward from the whole second below.
    ['1969-12-31T23:59:59.5Z', -500_000_000n],
  ])('RFC 3339 %s', (text, ns) => {
    expect(parseTimestamp('from', text)).toBe(ns);
  });

  test.each([
    '',
    'garbage',
    'now',
    '-1',
    '-1.5',
    '+1',
    ' 1',
    '1 ',
    '1.',
    '.5',
    '1e9',
    '0x10',
    '1,5',
    '1000000000000', // 13 digits
    '1767366245000', // milliseconds, not seconds
    '1.1234567891', // 10 fractional digits
    '2026-01-02',
    '2026-01-02T15:04:05', // no zone
    '2026-01-02T15:04Z',
    '2026-1-2T15:04:05Z',
    '2026-01-02T15:04:05+0530',
    '2026-01-02T15:04:05+05',
    '2026-01-02T15:04:05.Z',
    '2026-01-02T15:04:05.1234567891Z',
    '2026-01-02T15:04:05ZZ',
    '2026-01-02X15:04:05Z',
    ' 2026-01-02T15:04:05Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-32T00:00:00Z',
    '2026-01-02T25:00:00Z',
    '2026-01-02T15:60:00Z',
    '2026-01-02T15:04:05+24:00',
  ])('rejects %j', (text) => {
    const err = queryError(() => parseTimestamp('from', text));
    expect(err.status).toBe(400);
    expect(err.message).toBe(`invalid from "${text}": expected unix seconds or an RFC 3339 time such as 2026-01-02T15:04:05Z`);
  });

  test('the error names the parameter it was given', () => {
    expect(queryError(() => parseTimestamp('to', 'x')).message).toMatch(/^invalid to "x"/);
  });
});

describe('parseProfileQuery', () => {
  test('an empty query is a live profile of the default length', () => {
    expect(DEFAULT_LIVE_SECONDS).toBe(30);
    expect(query('')).toEqual({ mode: 'live', kind: 'cpu', seconds: 30, pids: [], filters: {} });
  });

  test('the kind comes from the caller', () => {
    expect(parseProfileQuery(new URLSearchParams('seconds=5'), 'offcpu', NOW, RETENTION)).toEqual({
      mode: 'live', kind: 'offcpu', seconds: 5, pids: [], filters: {},
    });
  });

  test.each([
    ['seconds=1', 1],
    ['seconds=599', 599],
    [`seconds=${MAX_LIVE_SECONDS}`, 600],
    ['seconds=007', 7],
  ])('%s is a live profile', (search, seconds) => {
    expect(MAX_LIVE_SECONDS).toBe(600);
    expect(query(search)).toEqual({ mode: 'live', kind: 'cpu', seconds, pids: [], filters: {} });
  });

  test.each(['0', '-1', '1.5', '', 'abc', '1e2', '+5', ' 5', '1000000', '99999999999999999999'])(
    'seconds=%j is refused',
    (seconds) => {
      const err = queryFails(`seconds=${encodeURIComponent(seconds)}`);
      expect(err.status).toBe(400);
      expect(err.message).toBe(`invalid seconds "${seconds}": expected a whole number of seconds, 1 to 600`);
    },
  );

  test.each([
    ['601', 601],
    ['999999', 999999],
  ])('seconds=%s is over the limit', (seconds, n) => {
    const err = queryFails(`seconds=${seconds}`);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`seconds ${n} exceeds the limit of 600`);
  });

  test('from/to in unix seconds is a history query', () => {
    expect(query(`from=${NOW_S - 60n}&to=${NOW_S}`)).toEqual({
      mode: 'history', kind: 'cpu', fromNs: NOW - 60n * S, toNs: NOW, pids: [], filters: {},
    });
  });

  test('from/to in RFC 3339, mixed with unix seconds', () => {
    expect(query(`from=${encodeURIComponent('2026-01-02T15:03:05.25Z')}&to=${NOW_S}.5`)).toEqual({
      mode: 'history', kind: 'cpu', fromNs: NOW - 60n * S + 250_000_000n, toNs: NOW + 500_000_000n, pids: [], filters: {},
    });
  });

  test('to may lie in the future, and from may be now', () => {
    expect(query(`from=${NOW_S}&to=${NOW_S + 10n}`)).toMatchObject({ mode: 'history', fromNs: NOW, toNs: NOW + 10n * S });
  });

  test.each([
    [`from=${NOW_S - 60n}`],
    [`to=${NOW_S}`],
    [`from=${NOW_S - 60n}&from=${NOW_S - 30n}`],
  ])('%s without its partner is refused', (search) => {
    const err = queryFails(search);
    expect(err.status).toBe(400);
    expect(err.message).toBe('from and to go together');
  });

  test.each([
    [`seconds=10&from=${NOW_S - 60n}&to=${NOW_S}`],
    [`seconds=10&from=${NOW_S - 60n}`],
    [`seconds=10&to=${NOW_S}`],
  ])('%s mixes seconds and from/to', (search) => {
    const err = queryFails(search);
    expect(err.status).toBe(400);
    expect(err.message).toBe('give either seconds or from/to, not both');
  });

  test.each([
    [NOW_S, NOW_S],
    [NOW_S, NOW_S - 1n],
  ])('to must be after from (from=%s to=%s)', (from, to) => {
    const err = queryFails(`from=${from}&to=${to}`);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`to (${to}) must be after from (${from})`);
  });

  test('to one nanosecond after from is accepted', () => {
    expect(query(`from=${NOW_S - 1n}.999999999&to=${NOW_S}`)).toMatchObject({ fromNs: NOW - 1n, toNs: NOW });
  });

  test('from in the future is refused', () => {
    const err = queryFails(`from=${NOW_S + 1n}&to=${NOW_S + 2n}`);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`from (${NOW_S + 1n}) is in the future`);
  });

  test('a range that ended before the retained history is 404', () => {
    const end = NOW_S - 3600n - 1n;
    const err = queryFails(`from=${end - 60n}&to=${end}`);
    expect(err.status).toBe(404);
    expect(err.message).toBe('from/to lie outside the retained history (the last 3600 s)');
  });

  test('a range ending exactly at the retention edge, or reaching into it, is accepted', () => {
    const edge = NOW_S - 3600n;
    expect(query(`from=${edge - 60n}&to=${edge}`)).toMatchObject({ mode: 'history', fromNs: (edge - 60n) * S, toNs: edge * S });
    expect(query(`from=${edge - 60n}&to=${edge + 1n}`)).toMatchObject({ mode: 'history' });
  });

  test.each([
    ['from', 'yesterday', `from=yesterday&to=${NOW_S}`],
    ['to', '-5', `from=${NOW_S - 60n}&to=-5`],
  ])('an unparseable %s is refused by name', (name, text, search) => {
    const err = queryFails(search);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(new RegExp(`^invalid ${name} "${text}"`));
  });

  test.each(['foo', 'Seconds', 'pids', 'start'])('unknown parameter %s is 400', (key) => {
    const err = queryFails(`seconds=5&${key}=1`);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`unknown query parameter "${key}" (known: seconds, from, to, pid, tid, comm, process, container, pod)`);
  });

  test("debug and gc, as Go's pprof client sends them, and type are accepted", () => {
    expect(query('seconds=5&debug=0&gc=1')).toEqual({ mode: 'live', kind: 'cpu', seconds: 5, pids: [], filters: {} });
    expect(query('debug=1&type=cpu')).toEqual({ mode: 'live', kind: 'cpu', seconds: 30, pids: [], filters: {} });
  });

  test('pids come from every pid parameter, comma-separated, in order', () => {
    expect(query('pid=1,2&pid=3')).toEqual({ mode: 'live', kind: 'cpu', seconds: 30, pids: [1, 2, 3], filters: {} });
    expect(query('pid=9999999&pid=42')).toMatchObject({ pids: [9999999, 42] });
    expect(query(`pid=7&from=${NOW_S - 60n}&to=${NOW_S}`)).toMatchObject({ mode: 'history', pids: [7] });
  });

  test.each(['0', 'abc', '99999999', '-1', '1.0', '', ' 1', '0x10'])('pid=%j is refused', (pid) => {
    const err = queryFails(`pid=${encodeURIComponent(pid)}`);
    expect(err.status).toBe(400);
    expect(err.message).toBe(`invalid pid "${pid}": expected a process id`);
  });

  test('an empty part of a pid list is refused', () => {
    expect(queryFails('pid=1,,2').message).toBe('invalid pid "": expected a process id');
    expect(queryFails('pid=1,').message).toBe('invalid pid "": expected a process id');
  });
});

describe('parseTimestamp refuses dates that do not exist (regression: Date.parse rolled them over)', () => {
  test.each([
    ['2026-02-30T00:00:00Z'],
    ['2026-04-31T12:00:00Z'],
    ['2025-02-29T00:00:00Z'],
    ['2026-13-01T00:00:00Z'],
    ['2026-00-10T00:00:00Z'],
    ['2026-01-02T24:00:00Z'],
    ['2026-01-02T23:60:00Z'],
    ['2026-12-31T23:59:60Z'],
    ['2026-01-02T10:00:00+24:00'],
  ])('%s', (text) => {
    expect(() => parseTimestamp('from', text)).toThrow(/^invalid from /);
  });

  test('accepts February 29 of a leap year and applies offsets exactly', () => {
    expect(parseTimestamp('to', '2024-02-29T00:00:00Z')).toBe(1709164800n * 1_000_000_000n);
    expect(parseTimestamp('to', '2026-01-02T16:04:05.5+01:00')).toBe(parseTimestamp('to', '2026-01-02T15:04:05.5Z'));
    expect(parseTimestamp('to', '2026-01-02T10:34:05-04:30')).toBe(1767366245n * 1_000_000_000n);
  });

  test('says how to send a + offset when the query string turned it into a space', () => {
    expect(() => parseTimestamp('from', '2026-01-02T15:00:00 01:00')).toThrow(/send a \+ offset as %2B/);
  });
});

describe('parseLabelFilters (issue 13)', () => {
  test('text labels and thread ids; repeated or comma-separated values are alternatives', () => {
    expect(parseLabelFilters(new URLSearchParams('comm=a,b&comm=c&container=abc&tid=5,6&pod=u'))).toEqual({
      comm: ['a', 'b', 'c'], container: ['abc'], pod: ['u'], tid: [5, 6],
    });
    expect(parseLabelFilters(new URLSearchParams('comm='))).toEqual({});
  });

  test.each(['0', 'x', '-1', '12345678'])('tid=%j is refused with a 400 naming it', (tid) => {
    let err: unknown;
    try { parseLabelFilters(new URLSearchParams(`tid=${tid}`)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).status).toBe(400);
    expect((err as QueryError).message).toMatch(/^invalid tid/);
  });

  test('a value longer than 256 characters, or more than 64 values, is refused', () => {
    expect(() => parseLabelFilters(new URLSearchParams(`comm=${'x'.repeat(257)}`))).toThrow(/longer than 256/);
    expect(() => parseLabelFilters(new URLSearchParams(`process=${Array.from({ length: 65 }, (_, i) => i).join(',')}`))).toThrow(/too many process/);
  });

  test('profile queries carry the filters', () => {
    expect(parseProfileQuery(new URLSearchParams('seconds=5&comm=x'), 'cpu', 10n ** 18n, 3600n * 10n ** 9n)).toMatchObject({ filters: { comm: ['x'] } });
  });
});
