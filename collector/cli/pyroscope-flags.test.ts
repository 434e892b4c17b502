import { describe, expect, it } from 'vitest';
import { parsePyroscopeFlags } from './pyroscope-flags.js';

const files: Record<string, string> = { '/basic': 'alice:pa:ss\n', '/token': 'tok-123\n', '/empty': '', '/two': 'a\nb\n' };
const readFile = (p: string) => {
  if (!(p in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return files[p];
};
const parse = (v: Record<string, unknown>) => parsePyroscopeFlags({ 'pyroscope-queue-memory': '16M', ...v }, readFile);

describe('parsePyroscopeFlags', () => {
  it('is off without --pyroscope-url, and the other flags need it', () => {
    expect(parse({})).toBeUndefined();
    expect(() => parse({ 'pyroscope-tenant': 't' })).toThrow(/--pyroscope-tenant needs --pyroscope-url/);
  });

  it('reads labels, basic auth, tenant and queue bound', () => {
    const o = parse({
      'pyroscope-url': 'https://profiles.example.com/p', 'pyroscope-label': ['env=prod', 'region=eu=1'],
      'pyroscope-basic-auth-file': '/basic', 'pyroscope-tenant': 'team-a', 'pyroscope-queue-memory': '1M',
    })!;
    expect(o.url).toBe('https://profiles.example.com/p');
    expect(o.extraLabels).toEqual({ env: 'prod', region: 'eu=1' });
    expect(o.headers).toEqual({ authorization: `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`, 'x-scope-orgid': 'team-a' });
    expect(o.maxQueueBytes).toBe(1 << 20);
    expect(parse({ 'pyroscope-url': 'http://p:4040', 'pyroscope-bearer-token-file': '/token' })!.headers).toEqual({ authorization: 'Bearer tok-123' });
  });

  it('refuses bad values with one line naming the flag', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ 'pyroscope-url': 'ftp://x' }, /--pyroscope-url: "ftp:\/\/x" \(expected an http or https URL\)/],
      [{ 'pyroscope-url': 'pyroscope:4040' }, /expected an http or https URL/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-label': ['novalue'] }, /--pyroscope-label: "novalue"/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-label': ['__name__=x'] }, /not starting with __/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-label': ['a='] }, /empty value/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-bearer-token-file': '/missing' }, /--pyroscope-bearer-token-file: cannot read \/missing: ENOENT/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-bearer-token-file': '/empty' }, /is empty/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-bearer-token-file': '/two' }, /one line/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-basic-auth-file': '/token' }, /must hold "user:password"/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-basic-auth-file': '/basic', 'pyroscope-bearer-token-file': '/token' }, /exclude each other/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-tenant': 'a b' }, /--pyroscope-tenant/],
      [{ 'pyroscope-url': 'http://x', 'pyroscope-queue-memory': '1K' }, /at least 64K/],
    ];
    for (const [values, message] of cases) {
      let err: unknown;
      try {
        parse(values);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(values)).toMatchObject({ code: 'HP_ERR_USAGE' });
      expect(String((err as Error).message)).toMatch(message);
      expect(String((err as Error).message)).not.toContain('\n');
    }
  });
});
