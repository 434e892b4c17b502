import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BasicAuth, parseBasicAuthorization, UNKNOWN_USER_HASH } from './basic-auth.js';

const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('parseBasicAuthorization', () => {
  it('reads user and password; the password may contain colons', () => {
    expect(parseBasicAuthorization(header('prom', 'a:b:c'))).toEqual({ user: 'prom', password: 'a:b:c' });
    expect(parseBasicAuthorization('basic ' + Buffer.from('u:').toString('base64'))).toEqual({ user: 'u', password: '' });
  });
  it.each([undefined, '', 'Bearer abc', 'Basic', 'Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Basic ${'A'.repeat(5000)}`])(
    'refuses %j',
    (h) => expect(parseBasicAuthorization(h)).toBeUndefined(),
  );
});

describe('BasicAuth', () => {
  const hash = bcrypt.hashSync('s3cret', 4);
  const make = (opts: { maxPending?: number; delayMs?: number } = {}) => {
    const calls: string[] = [];
    const auth = new BasicAuth(new Map([['prom', hash]]), {
      verify: async (password, h) => {
        calls.push(h);
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        return bcrypt.compareSync(password, h);
      },
      maxPending: opts.maxPending,
      cacheSize: 3,
    });
    return { auth, calls };
  };

  it('accepts the right password once checked, then from its cache', async () => {
    const { auth, calls } = make();
    expect(await auth.check(header('prom', 's3cret'))).toBe('ok');
    expect(await auth.check(header('prom', 's3cret'))).toBe('ok');
    expect(calls).toHaveLength(1);
    expect(await auth.check(header('prom', 'wrong'))).toBe('denied');
    expect(await auth.check(undefined)).toBe('denied');
  });

  it('checks unknown users against a fixed hash (no user enumeration by timing) and denies them', async () => {
    const { auth, calls } = make();
    expect(await auth.check(header('mallory', 'fakepassword'))).toBe('denied');
    expect(calls).toEqual([UNKNOWN_USER_HASH]);
  });

  it('runs one check for concurrent identical requests and refuses past maxPending', async () => {
    const { auth, calls } = make({ maxPending: 2, delayMs: 20 });
    const same = await Promise.all([1, 2, 3, 4].map(() => auth.check(header('prom', 's3cret'))));
    expect(same).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(calls).toHaveLength(1);
    const flood = await Promise.all([1, 2, 3, 4].map((i) => auth.check(header('prom', `guess${i}`))));
    expect(flood.filter((r) => r === 'busy')).toHaveLength(2);
    expect(flood.filter((r) => r === 'denied')).toHaveLength(2);
  });

  it('keeps at most cacheSize results', async () => {
    const { auth, calls } = make();
    for (const p of ['a', 'b', 'c', 'd']) await auth.check(header('prom', p));
    await auth.check(header('prom', 'a')); // evicted: checked again
    expect(calls).toHaveLength(5);
    await auth.check(header('prom', 'd')); // kept
    expect(calls).toHaveLength(5);
  });

  it('a verifier that fails is not a pass', async () => {
    const auth = new BasicAuth(new Map([['prom', hash]]), { verify: () => Promise.reject(new Error('worker died')) });
    expect(await auth.check(header('prom', 's3cret'))).toBe('busy');
  });
});
