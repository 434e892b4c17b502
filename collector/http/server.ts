// The agent's HTTP server: the routes of the product contract (ARCHITECTURE.md §2 HTTP). Query validation is
// pure (parseProfileQuery); bad input gets a 4xx text/plain answer with X-Go-Pprof: 1 and the agent goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildPprof, encodePprofGzip } from '../../exporters/pprof/index.js';
import type { MetricsExporter } from '../../exporters/metrics/index.js';
import type { Agent } from '../agent/agent.js';
import { renderFlamegraph } from '../windows/output-formats.js';
import type { ProfileKind } from '../windows/window-profile.js';

/** Longest live profile a request may ask for. */
export const MAX_LIVE_SECONDS = 600;
export const DEFAULT_LIVE_SECONDS = 30;

export type ProfileQuery =
  | { mode: 'live'; kind: ProfileKind; seconds: number; pids: number[] }
  | { mode: 'history'; kind: ProfileKind; fromNs: bigint; toNs: bigint; pids: number[] };

export class QueryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses unix seconds (integer or fractional) or an RFC 3339 timestamp into Unix nanoseconds. */
export function parseTimestamp(name: string, text: string): bigint {
  if (/^\d{1,12}(\.\d{1,9})?$/.test(text)) {
    const [sec, frac = ''] = text.split('.');
    return BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  }
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
  const ms = rfc3339.test(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new QueryError(400, `invalid ${name} "${text}": expected unix seconds or an RFC 3339 time such as 2026-01-02T15:04:05Z`);
  }
  const frac = /\.(\d{1,9})/.exec(text)?.[1] ?? '';
  return BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
}

/** Validates the query of a profile route. `kind` comes from the route, or `type=` for /flamegraph. */
export function parseProfileQuery(params: URLSearchParams, kind: ProfileKind, nowNs: bigint, retentionNs: bigint): ProfileQuery {
  const known = new Set(['seconds', 'from', 'to', 'pid', 'type', 'debug', 'gc']);
  for (const key of params.keys()) {
    if (!known.has(key)) throw new QueryError(400, `unknown query parameter "${key}" (known: seconds, from, to, pid)`);
  }
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
    return { mode: 'history', kind, fromNs, toNs, pids };
  }
  let secs = DEFAULT_LIVE_SECONDS;
  if (seconds !== null) {
    if (!/^\d{1,6}$/.test(seconds) || Number(seconds) < 1) {
      throw new QueryError(400, `invalid seconds "${seconds}": expected a whole number of seconds, 1 to ${MAX_LIVE_SECONDS}`);
    }
    secs = Number(seconds);
    if (secs > MAX_LIVE_SECONDS) throw new QueryError(400, `seconds ${secs} exceeds the limit of ${MAX_LIVE_SECONDS}`);
  }
  return { mode: 'live', kind, seconds: secs, pids };
}

export interface HttpServerOptions {
  host: string;
  port: number;
  agent: Agent;
  metrics: MetricsExporter;
  retentionNs: bigint;
  nowNs: () => bigint;
  log?: (line: string) => void;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Go-Pprof': '1', 'Cache-Control': 'no-store' });
  res.end(`${message}\n`);
}

function sendHtml(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(body);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function indexPage(agent: Agent): string {
  const programs = agent.statuses
    .map((s) => `<li>${escapeHtml(s.program)}: ${s.attached ? 'attached' : `<b>not attached</b>: ${escapeHtml(s.error ?? '')}`}</li>`)
    .join('');
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>hotpath</title></head><body>
<h1>hotpath</h1>
<p>Continuous CPU and latency profiler.</p>
<ul>
<li><a href="/flamegraph?type=cpu&amp;seconds=10">CPU flamegraph of the next 10 s</a></li>
<li><a href="/flamegraph?type=offcpu&amp;seconds=10">Off-CPU flamegraph of the next 10 s</a></li>
<li><a href="/debug/pprof/">/debug/pprof/</a> — profiles for <code>go tool pprof</code></li>
<li><a href="/metrics">/metrics</a> — Prometheus metrics</li>
<li><a href="/healthz">/healthz</a></li>
</ul>
<h2>Programs</h2><ul>${programs}</ul>
</body></html>
`;
}

function pprofIndexPage(): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>/debug/pprof/</title></head><body>
<p>/debug/pprof/</p>
<p>Profiles:</p>
<table>
<tr><td><a href="profile?seconds=30">profile</a></td><td>CPU profile of the next <code>seconds</code> (default 30); <code>from</code>&amp;<code>to</code> read retained history; <code>pid</code> filters</td></tr>
<tr><td><a href="offcpu?seconds=30">offcpu</a></td><td>Off-CPU time profile, same parameters</td></tr>
</table>
<p>Use: <code>go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=30</code></p>
</body></html>
`;
}

export class HttpServer {
  private readonly server: Server;
  private readonly opts: HttpServerOptions;
  private readonly log: (line: string) => void;
  /** Requests answered with a 4xx, by route. */
  readonly rejected = new Map<string, number>();

  constructor(opts: HttpServerOptions) {
    this.opts = opts;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.log(`hotpath serve: ${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
        sendError(res, 500, 'internal error');
      });
    });
    // Live profiles hold the request for up to MAX_LIVE_SECONDS.
    this.server.requestTimeout = (MAX_LIVE_SECONDS + 60) * 1000;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private reject(res: ServerResponse, route: string, err: QueryError): void {
    this.rejected.set(route, (this.rejected.get(route) ?? 0) + 1);
    sendError(res, err.status, err.message);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendError(res, 405, `method ${req.method} not allowed`);
      return;
    }
    const { agent } = this.opts;
    switch (path) {
      case '/':
        return sendHtml(res, indexPage(agent));
      case '/debug/pprof':
      case '/debug/pprof/':
        return sendHtml(res, pprofIndexPage());
      case '/metrics':
        return this.opts.metrics.handle(req, res);
      case '/healthz': {
        const h = agent.health();
        res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${h.ok ? 'ok' : 'unhealthy'}: ${h.reason}\n`);
        return;
      }
      case '/debug/pprof/profile':
      case '/debug/pprof/offcpu':
        return this.profileRoute(res, path, url, path.endsWith('offcpu') ? 'offcpu' : 'cpu', 'pprof');
      case '/flamegraph': {
        const type = url.searchParams.get('type') ?? 'cpu';
        if (type !== 'cpu' && type !== 'offcpu') {
          return this.reject(res, path, new QueryError(400, `invalid type "${type}": expected cpu or offcpu`));
        }
        return this.profileRoute(res, path, url, type, 'flamegraph');
      }
      default:
        return sendError(res, 404, `404 page not found: ${path} (see / for the routes)`);
    }
  }

  private async profileRoute(
    res: ServerResponse,
    route: string,
    url: URL,
    kind: ProfileKind,
    format: 'pprof' | 'flamegraph',
  ): Promise<void> {
    const { agent } = this.opts;
    let query: ProfileQuery;
    try {
      query = parseProfileQuery(url.searchParams, kind, this.opts.nowNs(), this.opts.retentionNs);
    } catch (err) {
      if (err instanceof QueryError) return this.reject(res, route, err);
      throw err;
    }
    if (!agent.hasProfile(kind)) {
      return this.reject(res, route, new QueryError(404, `the ${kind} profiler is not running (see hotpath serve --programs and /)`));
    }
    let data;
    if (query.mode === 'live') {
      const abort = new AbortController();
      const onClose = () => abort.abort();
      res.on('close', onClose);
      try {
        data = await agent.live(kind, query.seconds, query.pids, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return; // the client went away
        throw err;
      } finally {
        res.off('close', onClose);
      }
    } else {
      const oldest = agent.oldestRetainedNs(kind);
      if (oldest === undefined || query.toNs < oldest) {
        return this.reject(res, route, new QueryError(404, 'no retained window overlaps from/to (history starts with the first window after the agent started)'));
      }
      data = agent.history(kind, query.fromNs, query.toNs, query.pids);
    }
    if (format === 'pprof') {
      const body = await encodePprofGzip(data);
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${kind === 'cpu' ? 'profile' : 'offcpu'}"`,
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(body);
      return;
    }
    const html = renderFlamegraph(buildPprof(data), '.html', `hotpath ${kind === 'cpu' ? 'CPU' : 'off-CPU'} flamegraph`);
    sendHtml(res, html);
  }
}
