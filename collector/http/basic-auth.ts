// HTTP basic authentication against the web configuration's bcrypt hashes, as the Prometheus exporter toolkit
// does it (web/handler.go): a user that does not exist is checked against a fixed hash all the same (no user
// enumeration by timing), and results are cached by (user, hash, password) so a scraper pays bcrypt once.
// Checks run one at a time (bcrypt is CPU by design) off the event loop, with a bounded queue: a flood of
// wrong passwords costs one core's bounded share, never the agent's answers. Cache keys are SHA-256 digests:
// no password is kept.
import { createHash } from 'node:crypto';

/** bcrypt of "fakepassword" at cost 10, the toolkit's stand-in for users that do not exist. */
export const UNKNOWN_USER_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

/** Credentials from an `Authorization: Basic` header; undefined when absent or malformed. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!m || m[1].length > 4096) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export type AuthResult = 'ok' | 'denied' | 'busy';

export interface BasicAuthOptions {
  /** Compares a password with a bcrypt hash (in a worker thread in the agent). */
  verify(password: string, hash: string): Promise<boolean>;
  /** Results remembered (least recently used go first); the toolkit keeps 100. */
  cacheSize?: number;
  /** Distinct checks waiting or running at once; more are answered 'busy'. */
  maxPending?: number;
}

export class BasicAuth {
  private readonly cache = new Map<string, boolean>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly cacheSize: number;
  private readonly maxPending: number;
  /** bcrypt comparisons run (cache misses). */
  verifications = 0;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly opts: BasicAuthOptions,
  ) {
    this.cacheSize = opts.cacheSize ?? 100;
    this.maxPending = opts.maxPending ?? 16;
  }

  /** Checks an Authorization header: 'ok', 'denied' (answer 401), or 'busy' (too many checks waiting: 429). */
  async check(authorization: string | undefined): Promise<AuthResult> {
    const creds = parseBasicAuthorization(authorization);
    if (!creds) return 'denied';
    const known = this.users.get(creds.user);
    const hash = known ?? UNKNOWN_USER_HASH;
    const key = createHash('sha256').update(`${creds.user}\0${hash}\0${creds.password}`).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key); // most recently used last
      this.cache.set(key, cached);
      return cached && known !== undefined ? 'ok' : 'denied';
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      if (this.inflight.size >= this.maxPending) return 'busy';
      this.verifications++;
      pending = this.opts.verify(creds.password, hash).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    let match: boolean;
    try {
      match = await pending;
    } catch {
      return 'busy'; // the verifier failed or is overloaded: not the client's fault, not a pass either
    }
    const ok = match && known !== undefined;
    this.cache.set(key, ok);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    return ok ? 'ok' : 'denied';
  }
}
