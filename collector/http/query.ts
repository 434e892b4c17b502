// Validation of the profile routes' query strings (pure: no I/O, unit-tested). Bad input becomes a
// QueryError carrying the HTTP status to answer with.
import { ErrorCodes, HotpathError } from '../errors.js';
import type { ProfileKind } from '../sources/index.js';
import type { LabelFilters } from '../windows/label-filter.js';

/** Longest live profile a request may ask for. */
export const MAX_LIVE_SECONDS = 600;
export const DEFAULT_LIVE_SECONDS = 30;

export type ProfileQuery =
  | { mode: 'live'; kind: ProfileKind; seconds: number; pids: number[]; filters: LabelFilters }
  | { mode: 'history'; kind: ProfileKind; fromNs: bigint; toNs: bigint; pids: number[]; filters: LabelFilters };

/** Longest label value a filter may name (comm is 16 bytes; container ids 64, pod uids 36). */
const MAX_LABEL_VALUE = 256;
/** Values one label filter may list. */
const MAX_FILTER_VALUES = 64;

/**
 * Parses the label filters of a query (comm, process, container, pod: text; tid: thread ids). Repeated or
 * comma-separated values are alternatives; pid stays on its own (the profile routes always took it).
 */
export function parseLabelFilters(params: URLSearchParams): LabelFilters {
  const filters: LabelFilters = {};
  for (const label of ['comm', 'process', 'container', 'pod'] as const) {
    const values = params.getAll(label).flatMap((v) => v.split(',')).filter((v) => v !== '');
    for (const v of values) {
      if (v.length > MAX_LABEL_VALUE) throw new QueryError(400, `invalid ${label}: longer than ${MAX_LABEL_VALUE} characters`);
    }
    if (values.length > MAX_FILTER_VALUES) throw new QueryError(400, `too many ${label} values (at most ${MAX_FILTER_VALUES})`);
    if (values.length > 0) filters[label] = values;
  }
  const tids: number[] = [];
  for (const v of params.getAll('tid')) {
    for (const part of v.split(',')) {
      if (!/^\d{1,7}$/.test(part) || Number(part) < 1) throw new QueryError(400, `invalid tid "${part}": expected a thread id`);
      tids.push(Number(part));
    }
  }
  if (tids.length > MAX_FILTER_VALUES) throw new QueryError(400, `too many tid values (at most ${MAX_FILTER_VALUES})`);
  if (tids.length > 0) filters.tid = tids;
  return filters;
}

/** A request the agent refuses: `status` is the HTTP status (4xx) to answer with. */
export class QueryError extends HotpathError {
  readonly status: number;

  constructor(status: number, message: string) {
    super(ErrorCodes.QUERY, message);
    this.name = 'QueryError';
    this.status = status;
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses unix seconds (integer or fractional) or an RFC 3339 timestamp into Unix nanoseconds. Dates that do
 * not exist (February 30, hour 24) are refused rather than rolled over, as Go's time.Parse refuses them.
 */
export function parseTimestamp(name: string, text: string): bigint {
  if (/^\d{1,12}(\.\d{1,9})?$/.test(text)) {
    const [sec, frac = ''] = text.split('.');
    return BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  }
  const m = RFC3339.exec(text);
  const [year, month, day, hour, minute, second] = (m?.slice(1, 7) ?? []).map(Number);
  const [offsetHours, offsetMinutes] = [Number(m?.[9] ?? 0), Number(m?.[10] ?? 0)];
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeapYear(year) ? 1 : 0);
  if (!m || month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    // A '+' in a query string decodes to a space: an offset sent unencoded arrives as " 01:00".
    const hint = / \d{2}:\d{2}$/.test(text) ? ' (send a + offset as %2B)' : '';
    throw new QueryError(400, `invalid ${name} "${text}": expected unix seconds or an RFC 3339 time such as 2026-01-02T15:04:05Z${hint}`);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, 0);
  const offsetSeconds = (m[8] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  const seconds = BigInt(utc.getTime() / 1000 - offsetSeconds);
  return seconds * 1_000_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * Validates the query of a profile route. `kind` comes from the route, or `type=` for /flamegraph; `extra`
 * names the route's own parameters, checked by the route.
 */
export function parseProfileQuery(params: URLSearchParams, kind: ProfileKind, nowNs: bigint, retentionNs: bigint, extra: readonly string[] = []): ProfileQuery {
  const known = new Set(['seconds', 'from', 'to', 'pid', 'tid', 'comm', 'process', 'container', 'pod', 'type', 'debug', 'gc', ...extra]);
  for (const key of params.keys()) {
    if (!known.has(key)) throw new QueryError(400, `unknown query parameter "${key}" (known: seconds, from, to, pid, tid, comm, process, container, pod${extra.map((e) => `, ${e}`).join('')})`);
  }
  const filters = parseLabelFilters(params);
  const pids: number[] = [];
  for (const v of params.getAll('pid')) {
    for (const part of v.split(',')) {
      if (!/^\d{1,7}$/.test(part) || Number(part) < 1) throw new QueryError(400, `invalid pid "${part}": expected a process id`);
      pids.push(Number(part));
    }
  }
  const from = params.get('from');
  const to = params.get('to');
  const seconds = params.get('seconds');
  if (from !== null || to !== null) {
    if (seconds !== null) throw new QueryError(400, 'give either seconds or from/to, not both');
    if (from === null || to === null) throw new QueryError(400, 'from and to go together');
    const fromNs = parseTimestamp('from', from);
    const toNs = parseTimestamp('to', to);
    if (toNs <= fromNs) throw new QueryError(400, `to (${to}) must be after from (${from})`);
    if (fromNs > nowNs) throw new QueryError(400, `from (${from}) is in the future`);
    if (toNs < nowNs - retentionNs) throw new QueryError(404, `from/to lie outside the retained history (the last ${Number(retentionNs / 1_000_000_000n)} s)`);
    return { mode: 'history', kind, fromNs, toNs, pids, filters };
  }
  let secs = DEFAULT_LIVE_SECONDS;
  if (seconds !== null) {
    if (!/^\d{1,6}$/.test(seconds) || Number(seconds) < 1) {
      throw new QueryError(400, `invalid seconds "${seconds}": expected a whole number of seconds, 1 to ${MAX_LIVE_SECONDS}`);
    }
    secs = Number(seconds);
    if (secs > MAX_LIVE_SECONDS) throw new QueryError(400, `seconds ${secs} exceeds the limit of ${MAX_LIVE_SECONDS}`);
  }
  return { mode: 'live', kind, seconds: secs, pids, filters };
}
