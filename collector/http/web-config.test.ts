import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticates, loadWebConfig, parseGoDuration, parseWebConfig } from './web-config.js';

const HASH = '$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze';

describe('parseWebConfig', () => {
  it('reads the exporter toolkit example file', () => {
    const spec = parseWebConfig(`# TLS and basic authentication configuration example.
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  alice: ${HASH}
  bob: "$2y$10$hLqFl9jSjoAAy95Z/zw8Ye8wkdMBM8c5Bn1ptYqP/AXyV0.oy0S8m"
rate_limit:
  interval: "1s"
  burst: 20
`);
    expect(spec.tls).toMatchObject({
      certFile: 'server.crt', keyFile: 'server.key', clientAuthType: 'NoClientCert', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3',
      honorCipherOrder: true, ciphers: undefined, ecdhCurve: undefined,
    });
    expect([...spec.users.keys()]).toEqual(['alice', 'bob']);
    expect(spec.rateLimit).toEqual({ intervalMs: 1000, burst: 20 });
    expect(authenticates(spec)).toBe(true);
  });

  it('an empty file is a valid configuration that guards nothing', () => {
    for (const text of ['', '# nothing\n', '{}']) {
      const spec = parseWebConfig(text);
      expect(spec.tls).toBeUndefined();
      expect(spec.users.size).toBe(0);
      expect(authenticates(spec)).toBe(false);
    }
  });

  it('maps client auth, versions, cipher suites, curves and headers to their Node.js names', () => {
    const spec = parseWebConfig(`
tls_server_config:
  cert: "-----BEGIN CERTIFICATE-----"
  key: "-----BEGIN PRIVATE KEY-----"
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: /etc/ca.pem
  client_allowed_sans: [prometheus.example]
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
    Content-Security-Policy: ""
`);
    expect(spec.tls).toMatchObject({
      clientAuthType: 'RequireAndVerifyClientCert', clientCaFile: '/etc/ca.pem', clientAllowedSans: ['prometheus.example'],
      minVersion: 'TLSv1.3', honorCipherOrder: false, ecdhCurve: 'X25519:P-256',
    });
    expect(spec.tls?.ciphers).toMatch(/^ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:TLS_AES_256_GCM_SHA384/);
    expect(spec.headers).toEqual({ 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=31536000' });
    expect(authenticates(spec)).toBe(true);
    expect(parseWebConfig('tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireClientCert}').tls?.clientAuthType).toBe('RequireAnyClientCert');
  });

  const bad: [string, RegExp][] = [
    ['tls_server_config:\n  cert_fle: a\n  key_file: b\n', /^tls_server_config\.cert_fle: unknown key/],
    ['basic_auth_user:\n  a: b\n', /^basic_auth_user: unknown key/],
    ['tls_server_config:\n  key_file: b\n', /missing cert_file/],
    ['tls_server_config:\n  cert_file: a\n', /missing key_file/],
    ['tls_server_config: {cert_file: a, cert: b, key_file: c}', /cert or cert_file, not both/],
    ['tls_server_config: {cert_file: a, key_file: b, client_auth_type: Always}', /client_auth_type: invalid "Always"/],
    ['tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}', /without a client_auth_type/],
    ['tls_server_config: {cert_file: a, key_file: b, client_allowed_sans: [x], client_auth_type: VerifyClientCertIfGiven}', /client_allowed_sans: needs/],
    ['tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}', /min_version: invalid "TLS14"/],
    ['tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}', /min_version is above max_version/],
    ['tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}', /unknown or insecure cipher suite/],
    ['tls_server_config: {cert_file: a, key_file: b, curve_preferences: [CurveP224]}', /unknown curve/],
    ['basic_auth_users:\n  alice: secret\n', /basic_auth_users\.alice: not a bcrypt hash/],
    [`basic_auth_users:\n  alice: ${HASH.replace('$10$', '$03$')}\n`, /not a bcrypt hash/],
    ['basic_auth_users:\n  alice: 12\n', /expected a bcrypt hash/],
    [`basic_auth_users:\n  alice: ${HASH}\n  alice: ${HASH}\n`, /^YAML: .*unique/i],
    ['basic_auth_users: [a, b]', /expected a mapping/],
    ['http_server_config:\n  headers:\n    X-Frame-Options: allow\n', /X-Frame-Options: invalid "allow"/],
    ['http_server_config:\n  headers:\n    Server: x\n', /headers\.Server: unknown key/],
    ['http_server_config:\n  http2: yes please\n', /http2: expected true or false/],
    ['rate_limit: {interval: soon, burst: 1}', /rate_limit\.interval: invalid duration/],
    ['rate_limit: {interval: 1s, burst: -1}', /rate_limit\.burst/],
    ['tls_server_config: [\n', /^YAML: /],
    ['- a\n- b\n', /expected a mapping/],
  ];
  it.each(bad)('refuses %j', (text, message) => {
    expect(() => parseWebConfig(text)).toThrow(message);
  });

  it('reads Go durations', () => {
    expect(parseGoDuration('1s')).toBe(1000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('-1s')).toBeUndefined();
  });
});

describe('loadWebConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hotpath-webconfig-'));
    for (const name of ['a', 'b']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
        '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'pipe' });
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const files = (extra: Record<string, string>) => (path: string) => {
    if (path in extra) return extra[path];
    return readFileSync(path, 'utf8');
  };

  it('reads certificate files relative to the configuration file', () => {
    const config = loadWebConfig(join(dir, 'web.yml'), files({ [join(dir, 'web.yml')]: 'tls_server_config: {cert_file: a.crt, key_file: a.key}\n' }));
    expect(config.tlsFiles?.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(config.tlsFiles?.key).toMatch(/PRIVATE KEY/);
    expect(config.path).toBe(join(dir, 'web.yml'));
  });

  it('names the file and the key in one line when something is wrong', () => {
    const web = join(dir, 'web.yml');
    const load = (text: string) => () => loadWebConfig(web, files({ [web]: text }));
    expect(() => loadWebConfig(join(dir, 'missing.yml'))).toThrow(/^invalid --web-config .*missing\.yml: ENOENT/);
    expect(load('tls_server_config: {cert_file: nope.crt, key_file: a.key}')).toThrow(/tls_server_config\.cert_file: ENOENT/);
    // The key of another certificate.
    expect(load('tls_server_config: {cert_file: a.crt, key_file: b.key}')).toThrow(/^invalid --web-config .*: tls_server_config: .*key values mismatch/);
    expect(load('basic_auth_users: {x: y}')).toThrow(/basic_auth_users\.x: not a bcrypt hash/);
    try {
      load('tls_server_config: {cert_file: a.crt, key_file: b.key}')();
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as { code?: string }).code).toBe('HP_ERR_USAGE');
    }
  });
});
