// Kernel tests of how `hotpath serve` is exposed (issue 10): --web-config with TLS and basic authentication,
// checked with curl (TLS verified against the test's own certificate); the Host check on loopback (DNS
// rebinding); refusing a non-loopback address without authentication.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, requireRoot, runCli, runTool, startAgent, tempDir, type RunningAgent } from '../test-support/kernel.js';
import { seriesValue } from '../test-support/metrics-text.js';

const USER = 'prometheus';
const PASSWORD = 'correct horse battery staple';

let curlRuns = 0;

/** curl's exit status (0: the HTTP exchange happened), the status code, headers and body. */
async function curl(args: string[]): Promise<{ code: number | null; status: number; headers: string; body: string; stderr: string }> {
  const headerFile = join(tmpdir(), `hotpath-curl-${process.pid}-${curlRuns++}.txt`);
  try {
    const r = await runTool('curl', ['-sS', '--max-time', '20', '-D', headerFile, ...args]);
    const headers = existsSync(headerFile) ? readFileSync(headerFile, 'utf8') : '';
    const statusLine = /^HTTP\/[\d.]+ (\d{3})/m.exec(headers);
    return { code: r.code, status: statusLine ? Number(statusLine[1]) : 0, headers, body: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(headerFile, { force: true });
  }
}

describe('hotpath serve --web-config (kernel)', () => {
  let dir: string;
  let agent: RunningAgent;
  let base: string;
  let ca: string;

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-webconfig-');
    // A self-signed certificate for 127.0.0.1 and localhost: curl verifies the server against it (--cacert).
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'),
    ], { stdio: 'pipe' });
    ca = join(dir, 'server.crt');
    // Relative file names: read from the configuration file's directory.
    writeFileSync(join(dir, 'web.yml'), [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      'basic_auth_users:',
      `  ${USER}: ${bcrypt.hashSync(PASSWORD, 10)}`,
      'http_server_config:',
      '  headers:',
      '    X-Frame-Options: deny',
      '',
    ].join('\n'));
    agent = await startAgent(['--programs', 'cpu', '--window', '1s', '--web-config', join(dir, 'web.yml')]);
    base = agent.url;
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('serves HTTPS only, with a certificate curl verifies', async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const verified = await curl(['--cacert', ca, '-o', '/dev/null', `${base}/healthz`]);
    expect(verified.code).toBe(0);
    expect(verified.status).toBe(401); // TLS done; no credentials yet
    // Without our CA, curl refuses the self-signed certificate (exit 60: peer certificate cannot be authenticated).
    const unverified = await curl(['-o', '/dev/null', `${base}/healthz`]);
    expect(unverified.code).toBe(60);
    // Plain HTTP to the TLS port gets no HTTP answer.
    const plain = await curl(['-o', '/dev/null', base.replace('https:', 'http:') + '/healthz']);
    expect(plain.status).toBe(0);
  });

  it('answers 401 with WWW-Authenticate: Basic on every route without valid credentials, 200 with them', async () => {
    for (const path of ['/', '/metrics', '/healthz', '/debug/pprof/', '/debug/pprof/profile?seconds=1', '/debug/pprof/symbol',
      '/debug/pprof/cmdline', '/flamegraph', '/no/such/route']) {
      const none = await curl(['--cacert', ca, `${base}${path}`]);
      expect(none.status, path).toBe(401);
      expect(none.headers).toMatch(/^www-authenticate: Basic\r?$/im);
      expect(none.headers).toMatch(/^x-frame-options: deny\r?$/im);
      const wrong = await curl(['--cacert', ca, '-u', `${USER}:wrong`, `${base}${path}`]);
      expect(wrong.status, path).toBe(401);
    }
    const unknown = await curl(['--cacert', ca, '-u', `mallory:${PASSWORD}`, `${base}/metrics`]);
    expect(unknown.status).toBe(401);
    const ok = await curl(['--cacert', ca, '-u', `${USER}:${PASSWORD}`, `${base}/metrics`]);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^hotpath_info\{/m);
    // The refusals are counted by route and code.
    expect(seriesValue(ok.body, 'hotpath_http_requests_rejected_total', { route: '/metrics', code: '401' })).toBe(3);
    expect(seriesValue(ok.body, 'hotpath_http_requests_rejected_total', { route: 'other', code: '401' })).toBe(2);
  });

  it('serves a profile to go tool pprof over verified TLS with credentials', async () => {
    const home = join(dir, 'home');
    const env = { HOME: home, GOCACHE: join(home, 'gocache'), GOPATH: join(home, 'gopath'), PPROF_TMPDIR: home };
    const profile = join(dir, 'cpu.pb.gz');
    const got = await curl(['--cacert', ca, '-u', `${USER}:${PASSWORD}`, '-o', profile, `${base}/debug/pprof/profile?seconds=1`]);
    expect(got.status).toBe(200);
    const r = await runTool('go', ['tool', 'pprof', '-raw', profile], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PeriodType: cpu nanoseconds/);
  });
});

describe('hotpath serve --web-config with client certificates (kernel)', () => {
  let dir: string;
  let agent: RunningAgent;
  const cert = (name: string) => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=${name === 'server' ? 'IP:127.0.0.1' : `DNS:${name}.example`}`,
      '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`),
    ], { stdio: 'pipe' });
  };

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-clientcert-');
    cert('server');
    cert('prometheus'); // the client: its own certificate is the CA the agent trusts
    cert('stranger');
    writeFileSync(join(dir, 'web.yml'), [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      '  client_auth_type: RequireAndVerifyClientCert',
      '  client_ca_file: prometheus.crt',
      '  client_allowed_sans: [prometheus.example]',
      '',
    ].join('\n'));
    agent = await startAgent(['--programs', 'cpu', '--window', '1s', '--web-config', join(dir, 'web.yml')]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('serves a client with a certificate from its CA, and nobody else', async () => {
    const tls = ['--cacert', join(dir, 'server.crt')];
    const ok = await curl([...tls, '--cert', join(dir, 'prometheus.crt'), '--key', join(dir, 'prometheus.key'), `${agent.url}/metrics`]);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^hotpath_info\{/m);
    const none = await curl([...tls, '-o', '/dev/null', `${agent.url}/metrics`]);
    expect(none.status).toBe(0);
    expect(none.code).not.toBe(0);
    const stranger = await curl([...tls, '--cert', join(dir, 'stranger.crt'), '--key', join(dir, 'stranger.key'), '-o', '/dev/null', `${agent.url}/metrics`]);
    expect(stranger.status).toBe(0);
    expect(stranger.code).not.toBe(0);
  });
});

describe('hotpath serve on loopback: Host check (kernel)', () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    requireRoot();
    agent = await startAgent(['--programs', 'cpu', '--window', '1s']);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('refuses a Host header naming anything but localhost, 127.0.0.1 or [::1] with its port (DNS rebinding)', async () => {
    const evil = await curl(['-H', 'Host: evil.example', `${agent.url}/metrics`]);
    expect(evil.status).toBe(421);
    expect(evil.headers).toMatch(/^x-go-pprof: 1\r?$/im);
    expect(evil.body).toMatch(/misdirected request/);
    const rebound = await curl(['-H', `Host: evil.example:${agent.port}`, `${agent.url}/debug/pprof/profile?seconds=1`]);
    expect(rebound.status).toBe(421);
    const otherPort = await curl(['-H', `Host: 127.0.0.1:${agent.port + 1}`, `${agent.url}/healthz`]);
    expect(otherPort.status).toBe(421);
    for (const host of [`localhost:${agent.port}`, `127.0.0.1:${agent.port}`, `[::1]:${agent.port}`]) {
      const ok = await curl(['-H', `Host: ${host}`, '-o', '/dev/null', `${agent.url}/healthz`]);
      expect(ok.status, host).toBe(200);
    }
    const metrics = await curl([`${agent.url}/metrics`]);
    expect(seriesValue(metrics.body, 'hotpath_http_requests_rejected_total', { route: '/metrics', code: '421' })).toBe(1);
  });
});

describe('hotpath serve exposure flags (kernel)', () => {
  let dir: string;

  beforeAll(() => {
    requireRoot();
    dir = tempDir('hotpath-expose-');
  });

  const usage = async (args: string[], message: RegExp) => {
    const r = await runCli(['serve', '--port', '0', ...args], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  };

  it('refuses a non-loopback address without an authenticating --web-config, and bad files, with one line and status 2', async () => {
    await usage(['--host', '0.0.0.0'], /refusing to listen on 0\.0\.0\.0 without --web-config.*--insecure-expose/);
    await usage(['--host', '::'], /refusing to listen on :: without --web-config/);
    writeFileSync(join(dir, 'empty.yml'), '# nothing\n');
    await usage(['--host', '0.0.0.0', '--web-config', join(dir, 'empty.yml')], /authenticates nobody/);
    await usage(['--web-config', join(dir, 'missing.yml')], /^hotpath serve: invalid --web-config .*missing\.yml: ENOENT/);
    writeFileSync(join(dir, 'typo.yml'), 'basic_auth_user:\n  a: b\n');
    await usage(['--web-config', join(dir, 'typo.yml')], /basic_auth_user: unknown key/);
    writeFileSync(join(dir, 'bad.yml'), 'tls_server_config: [\n');
    await usage(['--web-config', join(dir, 'bad.yml')], /invalid --web-config .*bad\.yml: YAML: /);
  });

  it('binds a non-loopback address with --insecure-expose, saying so', async () => {
    const r = await runTool('timeout', ['--preserve-status', '-s', 'TERM', '8', process.execPath, cliPath,
      'serve', '--programs', 'cpu', '--port', '0', '--host', '0.0.0.0', '--insecure-expose']);
    expect(r.stderr).toMatch(/listening on http:\/\/0\.0\.0\.0:\d+\//);
    expect(r.stderr).toMatch(/--insecure-expose: 0\.0\.0\.0 is reachable without authentication/);
    expect(r.code).toBe(0);
  });

  it('explains the exposure flags in --help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const word of ['--web-config FILE', '--insecure-expose', 'basic_auth_users', 'tls_server_config', 'client_auth_type', 'Host header', '421', '429']) {
      expect(r.stdout).toContain(word);
    }
  });
});
