// `hotpath serve --web-config FILE`: the web configuration file of the Prometheus exporter toolkit
// (prometheus/exporter-toolkit docs/web-configuration.md), which node_exporter and Prometheus read, so one file
// and one set of bcrypt hashes serve them all: tls_server_config (server certificate and key, client
// certificate policy and CA), http_server_config (extra response headers), basic_auth_users (user → bcrypt
// hash) and rate_limit. As the toolkit does, unknown keys are errors (a misspelt security setting must not be
// ignored) and relative file names are read from the file's own directory.
//
// YAML is read with the `yaml` package (no dependencies, pure JS) rather than a hand-written subset: the file is
// written by people and tools (quoted hashes, block scalars for inline PEM, comments, flow lists), and a
// security setting misread by a partial parser would fail open. parseWebConfig is pure (text in, spec out);
// loadWebConfig reads the files it names.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { usageError, type HotpathError } from '../errors.js';

/** Go's tls.ClientAuthType names, as the toolkit accepts them ("RequireClientCert" is its old alias). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS: Record<string, SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

/** Go's names of the TLS 1.0-1.2 cipher suites crypto/tls offers (tls.CipherSuites()), in OpenSSL's names. */
const CIPHER_SUITES: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
/** Go's cipher_suites never touch TLS 1.3; Node's cipher list does: keep its TLS 1.3 suites. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** Go's tls.CurveID names, in OpenSSL's names. */
const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/** The toolkit's configurable headers, with the values it accepts (none listed: any). */
const EXTRA_HEADERS: Record<string, string[]> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

/** A bcrypt hash as htpasswd -B and Go's bcrypt write it: $2a$, $2b$ or $2y$, a cost of 4 to 31, 53 characters. */
const BCRYPT_HASH = /^\$2[aby]?\$(\d{2})\$[./A-Za-z0-9]{53}$/;

export interface TlsSpec {
  certFile?: string;
  cert?: string;
  keyFile?: string;
  key?: string;
  clientCaFile?: string;
  clientCa?: string;
  clientAuthType: ClientAuthType;
  clientAllowedSans: string[];
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  /** OpenSSL cipher list (TLS 1.2 and below, plus Node's TLS 1.3 suites); undefined: Node's default. */
  ciphers?: string;
  honorCipherOrder: boolean;
  /** OpenSSL curve list; undefined: Node's default. */
  ecdhCurve?: string;
}

/** What a web configuration file says, checked, file names not yet read. */
export interface WebConfigSpec {
  tls?: TlsSpec;
  /** User → bcrypt hash; empty: no basic authentication. */
  users: Map<string, string>;
  /** Response headers added to every answer. */
  headers: Record<string, string>;
  /** Token bucket over all requests: one every intervalMs, bursts of `burst`; undefined: no limit. */
  rateLimit?: { intervalMs: number; burst: number };
}

/** A bad web configuration: the message names the key (as a dotted path) and what is wrong with it. */
function bad(path: string, what: string): Error {
  return new Error(path ? `${path}: ${what}` : what);
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The mapping at `path`, its keys checked against `known` (unknown keys are errors, as in the toolkit). */
function mapping(v: unknown, path: string, known: readonly string[]): Obj {
  if (v === null || v === undefined) return {};
  if (!isObject(v)) throw bad(path, 'expected a mapping');
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw bad(path ? `${path}.${k}` : k, `unknown key (known here: ${known.join(', ')})`);
  }
  return v;
}

function str(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`${path}.${key}`, 'expected a string');
  return v;
}

function bool(o: Obj, key: string, path: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw bad(`${path}.${key}`, 'expected true or false');
  return v;
}

function strList(o: Obj, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`${path}.${key}`, 'expected a list of strings');
  return v as string[];
}

/** A Go duration ("1s", "250ms", "1m30s", "0") in milliseconds. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * units[m[2]];
  return ms;
}

function parseTls(v: unknown): TlsSpec | undefined {
  const path = 'tls_server_config';
  const o = mapping(v, path, [
    'cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'client_allowed_sans',
    'min_version', 'max_version', 'cipher_suites', 'prefer_server_cipher_suites', 'curve_preferences',
  ]);
  if (Object.keys(o).length === 0) return undefined;
  const spec: Partial<TlsSpec> = {
    certFile: str(o, 'cert_file', path),
    cert: str(o, 'cert', path),
    keyFile: str(o, 'key_file', path),
    key: str(o, 'key', path),
    clientCaFile: str(o, 'client_ca_file', path),
    clientCa: str(o, 'client_ca', path),
  };
  if (spec.certFile && spec.cert) throw bad(path, 'give cert or cert_file, not both');
  if (spec.keyFile && spec.key) throw bad(path, 'give key or key_file, not both');
  if (spec.clientCaFile && spec.clientCa) throw bad(path, 'give client_ca or client_ca_file, not both');
  if (!spec.certFile && !spec.cert) throw bad(path, 'missing cert_file (or cert)');
  if (!spec.keyFile && !spec.key) throw bad(path, 'missing key_file (or key)');

  let auth = str(o, 'client_auth_type', path) ?? 'NoClientCert';
  if (auth === '') auth = 'NoClientCert';
  if (auth === 'RequireClientCert') auth = 'RequireAnyClientCert';
  if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(auth)) {
    throw bad(`${path}.client_auth_type`, `invalid "${auth}" (expected one of ${CLIENT_AUTH_TYPES.join(', ')})`);
  }
  const clientAuthType = auth as ClientAuthType;
  if ((spec.clientCaFile || spec.clientCa) && clientAuthType === 'NoClientCert') {
    throw bad(path, "client CA's have been configured without a client_auth_type");
  }
  const clientAllowedSans = strList(o, 'client_allowed_sans', path);
  if (clientAllowedSans.length > 0 && clientAuthType !== 'RequireAnyClientCert' && clientAuthType !== 'RequireAndVerifyClientCert') {
    throw bad(`${path}.client_allowed_sans`, 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }

  const version = (key: string, def: string): SecureVersion => {
    const name = str(o, key, path) ?? def;
    const v = TLS_VERSIONS[name];
    if (!v) throw bad(`${path}.${key}`, `invalid "${name}" (expected one of ${Object.keys(TLS_VERSIONS).join(', ')})`);
    return v;
  };
  const minVersion = version('min_version', 'TLS12');
  const maxVersion = version('max_version', 'TLS13');
  const order = Object.values(TLS_VERSIONS);
  if (order.indexOf(minVersion) > order.indexOf(maxVersion)) {
    throw bad(path, 'min_version is above max_version');
  }
  const suites = strList(o, 'cipher_suites', path).map((name) => {
    const openssl = CIPHER_SUITES[name];
    if (!openssl) throw bad(`${path}.cipher_suites`, `unknown or insecure cipher suite "${name}"`);
    return openssl;
  });
  const curves = strList(o, 'curve_preferences', path).map((name) => {
    const openssl = CURVES[name];
    if (!openssl) throw bad(`${path}.curve_preferences`, `unknown curve "${name}" (known: ${Object.keys(CURVES).join(', ')})`);
    return openssl;
  });
  return {
    ...spec,
    clientAuthType,
    clientAllowedSans,
    minVersion,
    maxVersion,
    ciphers: suites.length > 0 ? `${suites.join(':')}:${TLS13_SUITES}` : undefined,
    honorCipherOrder: bool(o, 'prefer_server_cipher_suites', path, true),
    ecdhCurve: curves.length > 0 ? curves.join(':') : undefined,
  };
}

/** Parses and checks a web configuration file's text. Throws an Error naming the key that is wrong. */
export function parseWebConfig(text: string): WebConfigSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, strict: true, maxAliasCount: 100, prettyErrors: false });
  } catch (err) {
    throw bad('', `YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const top = mapping(doc, '', ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);
  const tls = parseTls(top.tls_server_config);

  const http = mapping(top.http_server_config, 'http_server_config', ['http2', 'headers']);
  bool(http, 'http2', 'http_server_config', true); // accepted; hotpath serves HTTP/1.1
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(mapping(http.headers, 'http_server_config.headers', Object.keys(EXTRA_HEADERS)))) {
    if (typeof value !== 'string') throw bad(`http_server_config.headers.${name}`, 'expected a string');
    const allowed = EXTRA_HEADERS[name];
    if (allowed.length > 0 && !allowed.includes(value)) {
      throw bad(`http_server_config.headers.${name}`, `invalid "${value}" (expected one of ${allowed.join(', ')})`);
    }
    if (/[\r\n]/.test(value)) throw bad(`http_server_config.headers.${name}`, 'contains a line break');
    if (value !== '') headers[name] = value;
  }

  const users = new Map<string, string>();
  const userMap = top.basic_auth_users;
  if (userMap !== undefined && userMap !== null) {
    if (!isObject(userMap)) throw bad('basic_auth_users', 'expected a mapping of user names to bcrypt hashes');
    for (const [user, hash] of Object.entries(userMap)) {
      if (typeof hash !== 'string') throw bad(`basic_auth_users.${user}`, 'expected a bcrypt hash (a string)');
      const m = BCRYPT_HASH.exec(hash);
      if (!m || Number(m[1]) < 4 || Number(m[1]) > 31) {
        throw bad(`basic_auth_users.${user}`, 'not a bcrypt hash (make one with: htpasswd -nBC 10 "" | tr -d \':\\n\')');
      }
      if (user.includes(':')) throw bad(`basic_auth_users.${user}`, 'a user name cannot contain ":"');
      users.set(user, hash);
    }
  }

  let rateLimit: WebConfigSpec['rateLimit'];
  const rl = mapping(top.rate_limit, 'rate_limit', ['interval', 'burst']);
  if (Object.keys(rl).length > 0) {
    const interval = rl.interval === undefined ? '0' : rl.interval;
    const intervalMs = typeof interval === 'string' ? parseGoDuration(interval) : undefined;
    if (intervalMs === undefined) throw bad('rate_limit.interval', `invalid duration ${JSON.stringify(interval)} (e.g. 1s, 100ms)`);
    const burst = rl.burst ?? 0;
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0) throw bad('rate_limit.burst', 'expected a whole number');
    if (intervalMs > 0) rateLimit = { intervalMs, burst: Math.max(1, burst) };
  }
  return { tls, users, headers, rateLimit };
}

/** A loaded web configuration: the spec, with its TLS material read (PEM text) and checked. */
export interface WebConfig extends WebConfigSpec {
  /** The file it came from. */
  path: string;
  tlsFiles?: { cert: string; key: string; ca?: string };
}

/**
 * Reads, parses and checks `path` and the files it names (relative names from the file's directory), and
 * checks that the key matches the certificate. Any problem is a usage error naming the file and the key:
 * `hotpath serve` prints it as one line and exits with status 2.
 */
export function loadWebConfig(path: string, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): WebConfig {
  const fail = (what: string): HotpathError => usageError(`invalid --web-config ${path}: ${what}`);
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    throw fail((err as Error).message);
  }
  let spec: WebConfigSpec;
  try {
    spec = parseWebConfig(text);
  } catch (err) {
    throw fail((err as Error).message);
  }
  const config: WebConfig = { ...spec, path };
  const t = spec.tls;
  if (t) {
    const base = dirname(path);
    const file = (key: string, name: string | undefined, inline: string | undefined): string | undefined => {
      if (inline !== undefined) return inline;
      if (name === undefined) return undefined;
      const full = isAbsolute(name) ? name : join(base, name);
      try {
        return read(full);
      } catch (err) {
        throw fail(`tls_server_config.${key}: ${(err as Error).message}`);
      }
    };
    const cert = file('cert_file', t.certFile, t.cert) as string;
    const key = file('key_file', t.keyFile, t.key) as string;
    const ca = file('client_ca_file', t.clientCaFile, t.clientCa);
    try {
      createSecureContext({ cert, key, ca, minVersion: t.minVersion, maxVersion: t.maxVersion, ciphers: t.ciphers, ecdhCurve: t.ecdhCurve });
    } catch (err) {
      throw fail(`tls_server_config: ${(err as Error).message}`);
    }
    config.tlsFiles = { cert, key, ca };
  }
  return config;
}

/** True when the configuration makes clients prove who they are (basic auth, or verified client certificates). */
export function authenticates(config: WebConfigSpec): boolean {
  return config.users.size > 0 || config.tls?.clientAuthType === 'RequireAndVerifyClientCert';
}
