import { describe, expect, it } from 'vitest';
import { otlpDropReason, parseHeadersFile } from './otlp.js';

describe('otlpDropReason', () => {
  it('names why an export was given up from the OTLP exporter\'s errors', () => {
    expect(otlpDropReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' }))).toBe('unreachable');
    expect(otlpDropReason(new Error('Request timed out'))).toBe('timeout');
    expect(otlpDropReason(Object.assign(new Error('Bad Request'), { code: 400 }))).toBe('rejected');
    expect(otlpDropReason(new Error('Export failed with retryable status'))).toBe('retries_exhausted');
    expect(otlpDropReason(new Error('Concurrent export limit reached'))).toBe('busy');
    expect(otlpDropReason(undefined)).toBe('other');
  });
});

describe('parseHeadersFile', () => {
  it('reads Name: value lines, skipping comments and blank lines', () => {
    expect(parseHeadersFile('# token\nAuthorization: Bearer abc:def\n\nX-Scope-OrgID: team-a\n')).toEqual({
      ok: true,
      headers: { Authorization: 'Bearer abc:def', 'X-Scope-OrgID': 'team-a' },
    });
  });

  it('refuses a line without a header name, naming the line', () => {
    expect(parseHeadersFile('A: 1\nnot a header\n')).toEqual({ ok: false, error: 'line 2: expected "Name: value"' });
    expect(parseHeadersFile('Bad Name: 1')).toMatchObject({ ok: false });
  });
});
