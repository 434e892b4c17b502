// The agent's HTTP server: the routes of the product contract (ARCHITECTURE.md §2 HTTP). Query validation
// (query.ts) and the symbol table (symbolz.ts) are pure; bad input gets a 4xx text/plain answer with
// X-Go-Pprof: 1 and the agent goes on.
//
// What guards it, in the order a request meets it: the Host check when bound to loopback (DNS rebinding,
// host-check.ts); the web configuration's rate limit and basic authentication (web-config.ts, basic-auth.ts),
// and its TLS below HTTP; then bounds on what requests may hold: live profiles at once (429 past
// maxLiveProfiles), profiles built at once (a short line, 429 past it). Building is the heavy part (many
// windows into one profile, encoding): it runs a slice at a time on the event loop (time-slicer.ts) so
// /metrics and /healthz answer in between, and flamegraph pages are laid out in a worker thread. A client that
// goes away aborts its request's work; close() answers what is pending and drops every connection at once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { encodePprofSteps, gzipPprof } from '../../exporters/pprof/index.js';
import type { MetricsExporter } from '../../exporters/metrics/index.js';
import type { Agent, ProfileSelection } from '../agent/agent.js';
import { PROFILE_KINDS, type ProfileKind } from '../sources/index.js';
import { BasicAuth } from './basic-auth.js';
import { hostHeaderAllowed, isLoopbackAddress, loopbackHostNames } from './host-check.js';
import { OffloadBusyError, OffloadWorker } from './offload.js';
import { pprofIndexPage } from './pages.js';
import { buildSelectionSteps } from './profile-build.js';
import { MAX_LIVE_SECONDS, parseLabelFilters, parseProfileQuery, parseTimestamp, QueryError, type ProfileQuery } from './query.js';
import { foldStoredSteps, storedFoldBytes, type StoredFold } from '../windows/fold-stored.js';
import { filtersKey, FILTER_LABELS, type FilterLabel, type LabelFilters } from '../windows/label-filter.js';
import { timelineOf } from './ui-data.js';
import { uiPage } from './ui-page.js';
import { Gate, GateFullError, TokenBucket } from './request-limits.js';
import { SharedBuilds } from './shared-builds.js';
import { SymbolTable } from './symbolz.js';
import { DEFAULT_SLICE_MS, TimeSlicer } from './time-slicer.js';
import { authenticates, type WebConfig } from './web-config.js';

/** Largest symbol query body read (pprof posts about 20 bytes per unnamed address). */
export const MAX_SYMBOL_QUERY_BYTES = 2 * 1024 * 1024;

export interface RequestLimits {
  /** Live profiles (seconds=N) in progress at once; more are answered 429. */
  maxLiveProfiles: number;
  /** Profiles built at once (merge, encode, flamegraph); the next ones wait in line. */
  maxConcurrentBuilds: number;
  /** Requests waiting to build; more are answered 429. */
  maxQueuedBuilds: number;
  /** Longest run of building work before the event loop turns. */
  sliceMs: number;
  /** A flamegraph page taking longer than this to lay out fails (500) and its worker is replaced. */
  renderTimeoutMs: number;
  /** Heap limit of the flamegraph worker, MiB: a page too large for it fails rather than the agent. */
  renderHeapMb: number;
  /** Password checks waiting at once; more are answered 429. */
  maxPendingAuth: number;
  /** Open connections at once; more are closed on accept. */
  maxConnections: number;
  /**
   * Scrapes within this long of a collect share its text: a flood of scrapes costs one collect (about 1 ms
   * of the event loop) per period. Counters stay cumulative; 0 collects for every scrape.
   */
  metricsReuseMs: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxLiveProfiles: 8,
  maxConcurrentBuilds: 2,
  maxQueuedBuilds: 32,
  sliceMs: DEFAULT_SLICE_MS,
  renderTimeoutMs: 60_000,
  renderHeapMb: 256,
  maxPendingAuth: 16,
  maxConnections: 1024,
  metricsReuseMs: 250,
};

export interface HttpServerOptions {
  host: string;
  port: number;
  agent: Agent;
  metrics: MetricsExporter;
  retentionNs: bigint;
  nowNs: () => bigint;
  /** --web-config, loaded: TLS, basic authentication, headers, rate limit. */
  webConfig?: WebConfig;
  /** --insecure-expose: bind a non-loopback address without authentication. */
  insecureExpose?: boolean;
  limits?: Partial<RequestLimits>;
  log?: (line: string) => void;
}

/**
 * Why `host` may not be bound with this configuration, or undefined when it may: a non-loopback address needs
 * a web configuration that authenticates clients (basic_auth_users, or verified client certificates), or
 * --insecure-expose.
 */
export function exposureProblem(host: string, webConfig: WebConfig | undefined, insecureExpose: boolean): string | undefined {
  if (isLoopbackAddress(host) || insecureExpose) return undefined;
  if (!webConfig) {
    return `refusing to listen on ${host} without --web-config: profiles name every process on this machine (give a --web-config with basic_auth_users or client certificates, or --insecure-expose)`;
  }
  if (!authenticates(webConfig)) {
    return `refusing to listen on ${host}: --web-config ${webConfig.path} authenticates nobody (add basic_auth_users or client_auth_type: RequireAndVerifyClientCert, or give --insecure-expose)`;
  }
  return undefined;
}

/** Routes named in hotpath_http_requests_rejected_total; any other path counts as "other". */
const ROUTES = new Set([
  '/', '/metrics', '/healthz', '/debug/pprof/', '/debug/pprof/profile', '/debug/pprof/offcpu', '/debug/pprof/wall', '/debug/pprof/io', '/debug/pprof/symbol',
  '/debug/pprof/cmdline', '/flamegraph', '/api/timeline', '/api/top', '/api/heatmap',
]);

/** The `type` of /flamegraph and /api/top: a stack profile kind, or undefined. */
function profileTypeOf(type: string): ProfileKind | undefined {
  return (PROFILE_KINDS as readonly string[]).includes(type) ? (type as ProfileKind) : undefined;
}

const PROFILE_TYPES_EXPECTED = `${PROFILE_KINDS.slice(0, -1).join(', ')} or ${PROFILE_KINDS[PROFILE_KINDS.length - 1]}`;

/** Series a timeline keeps apart at most (the rest are summed as "other"). */
const MAX_TIMELINE_SERIES = 12;

/** What a build makes of a selection: pprof bytes, a flamegraph page, or the top table as JSON. */
type BuildFormat = 'pprof' | 'flamegraph' | 'top';

/** A flamegraph or top table beyond the plain one: a sandwich half, or a comparison with a base selection. */
interface BuildView {
  width?: number;
  /** Root at the top (the UI's main graph is an icicle). */
  inverted?: boolean;
  focus?: string;
  view?: 'callers' | 'callees';
  base?: ProfileSelection;
}

function routeLabel(path: string): string {
  if (path === '/debug/pprof') return '/debug/pprof/';
  return ROUTES.has(path) ? path : 'other';
}

/** The abort reason of requests pending when the server closes: they are answered 503. */
class ShuttingDown extends Error {
  constructor() {
    super('hotpath is shutting down');
    this.name = 'ShuttingDown';
  }
}

/** The abort reason of a request whose client went away: nothing is answered. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGone';
  }
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Go-Pprof': '1', 'Cache-Control': 'no-store', ...headers });
  res.end(`${message}\n`);
}

function sendHtml(res: ServerResponse, body: string | Uint8Array): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, body: string | Uint8Array): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

/** Whether a client certificate's subjectAltName ("DNS:a, IP Address:1.2.3.4, ...") lists one of `allowed`. */
function sanAllowed(subjectAltName: string | undefined, allowed: readonly string[]): boolean {
  if (!subjectAltName) return false;
  const names = subjectAltName.split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1));
  return names.some((n) => allowed.includes(n));
}

export class HttpServer {
  private readonly server: Server;
  private readonly opts: HttpServerOptions;
  private readonly limits: RequestLimits;
  private readonly log: (line: string) => void;
  private readonly tls: boolean;
  /** 4xx answers by route and status (hotpath_http_requests_rejected_total). */
  private readonly rejected = new Map<string, number>();
  /** Names of the addresses in the profiles served, for /debug/pprof/symbol. */
  readonly symbols = new SymbolTable();
  readonly slicer: TimeSlicer;
  private readonly builds: Gate;
  private readonly render: OffloadWorker;
  private readonly passwords: OffloadWorker | null = null;
  private readonly auth: BasicAuth | null = null;
  private readonly rateLimit: TokenBucket | null = null;
  /** Set once listening on loopback: the Host names answered, with `port`. */
  private hostNames: Set<string> | null = null;
  private port = 0;
  private liveInProgress = 0;
  private readonly shared = new SharedBuilds({ maxEntries: 8, maxBytes: 16 * 1024 * 1024 });
  /** Selections folded for the UI (an hour of busy windows: a few MiB). */
  private readonly folds = new SharedBuilds<StoredFold>({ maxEntries: 4, maxBytes: 64 * 1024 * 1024, sizeOf: storedFoldBytes });
  private readonly windowIds = new WeakMap<object, number>();
  private nextWindowId = 1;
  /** The last collect's text and when it started; the collect in progress, shared by concurrent scrapes. */
  private metricsText: { text: string; startedMs: number } | null = null;
  private metricsCollecting: Promise<string> | null = null;
  private readonly inflight = new Set<AbortController>();
  private closing: Promise<void> | null = null;
  /** accept() failures (EMFILE...), and when one was last logged. */
  private acceptErrors = 0;
  private acceptErrorsLoggedAt = 0;

  constructor(opts: HttpServerOptions) {
    this.opts = opts;
    this.limits = { ...DEFAULT_REQUEST_LIMITS, ...opts.limits };
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.slicer = new TimeSlicer(this.limits.sliceMs);
    this.builds = new Gate(this.limits.maxConcurrentBuilds, this.limits.maxQueuedBuilds);
    this.render = new OffloadWorker({
      timeoutMs: this.limits.renderTimeoutMs,
      maxQueued: this.limits.maxConcurrentBuilds,
      maxHeapMb: this.limits.renderHeapMb,
    });
    const web = opts.webConfig;
    if (web && web.users.size > 0) {
      const passwords = new OffloadWorker({ timeoutMs: 10_000, maxQueued: this.limits.maxPendingAuth, maxHeapMb: 32, idleMs: 60_000 });
      this.passwords = passwords;
      this.auth = new BasicAuth(web.users, {
        verify: async (password, hash) => (await passwords.run({ type: 'bcrypt', password, hash })).match === true,
        maxPending: this.limits.maxPendingAuth,
      });
    }
    if (web?.rateLimit) this.rateLimit = new TokenBucket(web.rateLimit.intervalMs, web.rateLimit.burst);

    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const t = web?.tls;
    if (t && web.tlsFiles) {
      this.tls = true;
      const verify = t.clientAuthType === 'RequireAndVerifyClientCert';
      this.server = createTlsServer(
        {
          cert: web.tlsFiles.cert,
          key: web.tlsFiles.key,
          ca: web.tlsFiles.ca,
          requestCert: t.clientAuthType !== 'NoClientCert',
          rejectUnauthorized: verify,
          minVersion: t.minVersion,
          maxVersion: t.maxVersion,
          ciphers: t.ciphers,
          honorCipherOrder: t.honorCipherOrder,
          ecdhCurve: t.ecdhCurve,
          handshakeTimeout: 10_000,
        },
        handler,
      );
      // Policies Node's options cannot state: checked once the handshake is done, before any request is read.
      this.server.on('secureConnection', (socket: TLSSocket) => {
        const cert = socket.getPeerCertificate();
        const given = cert !== null && Object.keys(cert).length > 0;
        const refuse =
          (t.clientAuthType === 'RequireAnyClientCert' && !given) ||
          (t.clientAuthType === 'VerifyClientCertIfGiven' && given && !socket.authorized) ||
          (t.clientAllowedSans.length > 0 && !(given && sanAllowed(cert.subjectaltname, t.clientAllowedSans)));
        if (refuse) socket.destroy();
      });
    } else {
      this.tls = false;
      this.server = createServer(handler);
    }
    // Live profiles hold the request for up to MAX_LIVE_SECONDS; headers must come quickly.
    this.server.requestTimeout = (MAX_LIVE_SECONDS + 60) * 1000;
    this.server.headersTimeout = 15_000;
    this.server.maxConnections = this.limits.maxConnections;
    // Kept for the server's life: an accept() failure (EMFILE when out of file descriptors) is an 'error'
    // event, and an 'error' event without a listener ends the process.
    this.server.on('error', (err: NodeJS.ErrnoException) => this.serverError(err));
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        this.port = address.port;
        if (isLoopbackAddress(this.opts.host)) this.hostNames = loopbackHostNames(this.opts.host);
        resolve(address);
      });
    });
  }

  /** Requests for a flamegraph or top table that found their selection's fold kept or being built. */
  get foldsShared(): number {
    return this.folds.shared;
  }

  /** Whether the server speaks TLS (--web-config with tls_server_config). */
  get isTls(): boolean {
    return this.tls;
  }

  /** 4xx answers so far, by route and status code. */
  rejectedRequests(): { route: string; code: string; requests: number }[] {
    return [...this.rejected].map(([key, requests]) => {
      const [route, code] = key.split(' ');
      return { route, code, requests };
    });
  }

  /**
   * Answers every pending request at once (503: shutting down; live profiles stop waiting, builds stop at their
   * next slice), stops accepting, and closes every connection, idle or not, within a second. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const reason = new ShuttingDown();
      for (const c of this.inflight) c.abort(reason);
      this.slicer.close();
      this.render.close();
      this.passwords?.close();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Let the pending requests write their 503 before their connections go.
      await new Promise((r) => setImmediate(r));
      this.server.closeIdleConnections();
      const timer = setTimeout(() => this.server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(timer);
    })();
    return this.closing;
  }

  private serverError(err: NodeJS.ErrnoException): void {
    if (!this.server.listening) return; // a listen failure: listen() reports it
    this.acceptErrors++;
    const now = Date.now();
    if (now - this.acceptErrorsLoggedAt < 10_000) return;
    this.acceptErrorsLoggedAt = now;
    this.log(`hotpath serve: accept: ${err.code ?? err.message} (${this.acceptErrors} so far; connections are refused until it clears)`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const ctl = new AbortController();
    this.inflight.add(ctl);
    res.once('close', () => {
      this.inflight.delete(ctl);
      if (!res.writableFinished) ctl.abort(new ClientGone());
    });
    this.serve(req, res, ctl.signal).catch((err: unknown) => {
      if (ctl.signal.aborted) {
        if (ctl.signal.reason instanceof ShuttingDown) sendError(res, 503, ctl.signal.reason.message, { Connection: 'close' });
        return; // the client went away: nobody to answer
      }
      if (err instanceof GateFullError || err instanceof OffloadBusyError) {
        return this.reject(res, routeLabel(new URL(req.url ?? '/', 'http://localhost').pathname), 429, `too many profile requests in progress (${err.message}); try again later`);
      }
      this.log(`hotpath serve: ${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
      sendError(res, 500, 'internal error');
    });
  }

  private reject(res: ServerResponse, route: string, status: number, message: string, headers: Record<string, string> = {}): void {
    const key = `${route} ${status}`;
    this.rejected.set(key, (this.rejected.get(key) ?? 0) + 1);
    sendError(res, status, message, headers);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const route = routeLabel(path);
    if (this.closing) return sendError(res, 503, 'hotpath is shutting down', { Connection: 'close' });
    if (this.hostNames && !hostHeaderAllowed(req.headers.host, this.hostNames, this.port, this.tls)) {
      // Another name for a loopback address: a browser page rebinding its own name to 127.0.0.1.
      return this.reject(res, route, 421, `misdirected request: this agent listens on loopback and answers only to localhost, 127.0.0.1 or [::1] with port ${this.port} in the Host header`);
    }
    if (this.rateLimit && !this.rateLimit.allow()) return this.reject(res, route, 429, 'too many requests (rate_limit of the web configuration)');
    for (const [name, value] of Object.entries(this.opts.webConfig?.headers ?? {})) res.setHeader(name, value);
    if (this.auth) {
      const result = await this.auth.check(req.headers.authorization);
      signal.throwIfAborted();
      if (result === 'busy') return this.reject(res, route, 429, 'too many password checks in progress; try again later');
      if (result === 'denied') return this.reject(res, route, 401, 'unauthorized', { 'WWW-Authenticate': 'Basic' });
    }
    // pprof's symbolz client posts its address list: the symbol route is the one that takes a body.
    const allowed = path === '/debug/pprof/symbol' ? ['GET', 'HEAD', 'POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) {
      return this.reject(res, route, 405, `method ${req.method} not allowed`, { Allow: allowed.join(', ') });
    }
    const { agent } = this.opts;
    switch (path) {
      case '/': {
        const profiles = (['cpu', 'offcpu'] as const).filter((k) => agent.hasProfile(k));
        const view = this.defaultPageView(url, profiles);
        sendHtml(res, uiPage({
          statuses: agent.statuses,
          profiles,
          latency: agent.latencyPrograms,
          retentionSeconds: Number(this.opts.retentionNs / 1_000_000n) / 1000,
          windowSeconds: agent.options.windowSeconds,
          // The page's first data, in the page: one round trip less before it asks for its graph.
          timeline: view && { query: `type=${view.kind}&by=${view.by}`, data: this.timeline(view.kind, view.by, view.span, {}) },
        }));
        this.render.warm();
        if (view) this.prefetchPageView(view.kind, view.span);
        return;
      }
      case '/api/timeline':
        return this.timelineRoute(res, route, url);
      case '/api/heatmap':
        return this.heatmapRoute(res, route, url);
      case '/api/top': {
        const type = url.searchParams.get('type') ?? 'cpu';
        const kind = profileTypeOf(type);
        if (!kind) return this.reject(res, route, 400, `invalid type "${type}": expected ${PROFILE_TYPES_EXPECTED}`);
        return this.profileRoute(res, route, url, kind, 'top', signal);
      }
      case '/debug/pprof':
      case '/debug/pprof/':
        return sendHtml(res, pprofIndexPage());
      case '/metrics':
        return this.metricsRoute(res);
      case '/healthz': {
        const h = agent.health();
        res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${h.ok ? 'ok' : 'unhealthy'}: ${h.reason}\n`);
        return;
      }
      case '/debug/pprof/symbol':
        return this.symbolRoute(req, res, url);
      case '/debug/pprof/cmdline':
        // As Go: the command line, arguments separated by NUL bytes.
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
        res.end(process.argv.slice(1).join('\0'));
        return;
      case '/debug/pprof/profile':
        return this.profileRoute(res, route, url, 'cpu', 'pprof', signal);
      case '/debug/pprof/offcpu':
        return this.profileRoute(res, route, url, 'offcpu', 'pprof', signal);
      case '/debug/pprof/wall':
        return this.profileRoute(res, route, url, 'wall', 'pprof', signal);
      case '/debug/pprof/io':
        return this.profileRoute(res, route, url, 'io', 'pprof', signal);
      case '/flamegraph': {
        const type = url.searchParams.get('type') ?? 'cpu';
        const kind = profileTypeOf(type);
        if (!kind) return this.reject(res, route, 400, `invalid type "${type}": expected ${PROFILE_TYPES_EXPECTED}`);
        return this.profileRoute(res, route, url, kind, 'flamegraph', signal);
      }
      default:
        return this.reject(res, route, 404, `404 page not found: ${path} (see / for the routes)`);
    }
  }

  private async profileRoute(
    res: ServerResponse,
    route: string,
    url: URL,
    kind: ProfileKind,
    format: BuildFormat,
    signal: AbortSignal,
  ): Promise<void> {
    const { agent } = this.opts;
    let query: ProfileQuery;
    let view: BuildView = {};
    let baseSpan: { fromNs: bigint; toNs: bigint } | undefined;
    try {
      const extra = format === 'pprof' ? [] : format === 'top' ? ['base_from', 'base_to'] : ['focus', 'view', 'base_from', 'base_to', 'width', 'inverted'];
      query = parseProfileQuery(url.searchParams, kind, this.opts.nowNs(), this.opts.retentionNs, extra);
      const p = url.searchParams;
      const focus = p.get('focus');
      if (focus !== null) {
        if (focus === '' || focus.length > 1024) throw new QueryError(400, 'invalid focus: expected a function name of 1 to 1024 characters');
        const v = p.get('view') ?? 'callees';
        if (v !== 'callers' && v !== 'callees') throw new QueryError(400, `invalid view "${v}": expected callers or callees`);
        view = { focus, view: v };
      } else if (p.has('view')) throw new QueryError(400, 'view goes with focus');
      const width = p.get('width');
      if (width !== null) {
        if (!/^\d{3,4}$/.test(width) || Number(width) < 300 || Number(width) > 4000) throw new QueryError(400, `invalid width "${width}": expected 300 to 4000 pixels`);
        view = { ...view, width: Number(width) };
      }
      const inverted = p.get('inverted');
      if (inverted !== null) {
        if (inverted !== '0' && inverted !== '1') throw new QueryError(400, `invalid inverted "${inverted}": expected 0 or 1`);
        view = { ...view, inverted: inverted === '1' };
      }
      const bf = p.get('base_from');
      const bt = p.get('base_to');
      if (bf !== null || bt !== null) {
        if (bf === null || bt === null) throw new QueryError(400, 'base_from and base_to go together');
        if (query.mode !== 'history') throw new QueryError(400, 'a comparison reads retained history: give from and to with base_from and base_to');
        baseSpan = { fromNs: parseTimestamp('base_from', bf), toNs: parseTimestamp('base_to', bt) };
        if (baseSpan.toNs <= baseSpan.fromNs) throw new QueryError(400, `base_to (${bt}) must be after base_from (${bf})`);
      }
    } catch (err) {
      if (err instanceof QueryError) return this.reject(res, route, err.status, err.message);
      throw err;
    }
    if (!agent.hasProfile(kind)) return this.reject(res, route, 404, agent.whyNoProfile(kind));
    if (query.mode === 'history') {
      const oldest = agent.oldestRetainedNs(kind);
      if (oldest === undefined || query.toNs < oldest) {
        return this.reject(res, route, 404, 'no retained window overlaps from/to (history starts with the first window after the agent started)');
      }
      if (baseSpan) view = { ...view, base: agent.history(kind, baseSpan.fromNs, baseSpan.toNs, query.pids, query.filters) };
      return this.answer(res, agent.history(kind, query.fromNs, query.toNs, query.pids, query.filters), format, signal, false, view);
    }
    if (this.liveInProgress >= this.limits.maxLiveProfiles) {
      return this.reject(res, route, 429, `too many live profiles in progress (at most ${this.limits.maxLiveProfiles}); try again later, or read retained history with from= and to=`);
    }
    this.liveInProgress++;
    try {
      const selection = { ...(await agent.live(kind, query.seconds, query.pids, signal)), filters: query.filters };
      await this.answer(res, selection, format, signal, true, view);
    } finally {
      this.liveInProgress--;
    }
  }

  /**
   * Answers a selection as pprof (gzipped) or a flamegraph page. History selections are shared by key (the
   * same windows give the same bytes); live ones are built alone, ahead of history builds in line.
   */
  private async answer(res: ServerResponse, selection: ProfileSelection, format: BuildFormat, signal: AbortSignal, live: boolean, view: BuildView = {}): Promise<void> {
    let key = live ? undefined : this.selectionKey(selection, format);
    if (key !== undefined && (view.focus !== undefined || view.base || view.width || view.inverted !== undefined)) {
      const baseKey = view.base ? this.selectionKey(view.base, 'base') ?? 'none' : '';
      key += `\0${view.focus ?? ''}\0${view.view ?? ''}\0${baseKey}\0${view.width ?? ''}\0${view.inverted ?? ''}`;
    }
    const body = await this.shared.get(key, signal, (buildSignal) => this.build(selection, format, buildSignal, live, view));
    signal.throwIfAborted();
    if (format === 'flamegraph') return sendHtml(res, body);
    if (format === 'top') return sendJson(res, body);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="${selection.kind === 'cpu' ? 'profile' : selection.kind}"`,
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(body);
  }

  /**
   * The view the page at / opens on when its URL names no range, filter, focus or comparison (only type, by
   * and search): the whole retained history of one profile. Undefined otherwise, or without a retained window.
   */
  private defaultPageView(url: URL, profiles: readonly ('cpu' | 'offcpu')[]): { kind: 'cpu' | 'offcpu'; by: FilterLabel; span: { fromNs: bigint; toNs: bigint } } | undefined {
    const p = url.searchParams;
    for (const k of p.keys()) if (k !== 'type' && k !== 'by' && k !== 'q') return undefined;
    const kind = p.get('type') ?? profiles[0];
    const by = p.get('by') ?? 'comm';
    if ((kind !== 'cpu' && kind !== 'offcpu') || !profiles.includes(kind) || !(FILTER_LABELS as readonly string[]).includes(by)) return undefined;
    if (this.opts.agent.oldestRetainedNs(kind) === undefined) return undefined;
    const now = this.opts.nowNs();
    return { kind, by: by as FilterLabel, span: { fromNs: now - this.opts.retentionNs, toNs: now } };
  }

  /**
   * The page at / asks for the flamegraph and top table of its timeline's range: for the default view, the whole
   * retained history. Its fold starts now, and the render worker folds it into stacks, while the page loads. The
   * page's requests then find it kept (or in progress) by the selection's key, unless a window came in between
   * (the key names the windows): then they build their own, as without this.
   */
  private prefetchPageView(kind: 'cpu' | 'offcpu', span: { fromNs: bigint; toNs: bigint }): void {
    const selection = this.opts.agent.history(kind, span.fromNs, span.toNs, []);
    const key = this.selectionKey(selection, 'fold');
    if (key === undefined) return;
    const ctl = new AbortController();
    this.inflight.add(ctl);
    this.foldOf(selection, ctl.signal, false)
      .then((fold) => this.render.run({ type: 'prepare', fold, key }))
      .catch(() => undefined) // a failure here is met again, and answered, by the page's own requests
      .finally(() => this.inflight.delete(ctl));
  }

  /** Names the windows a selection reads; undefined when it reads none (nothing worth sharing). */
  private selectionKey(selection: ProfileSelection, format: string): string | undefined {
    const w = selection.windows;
    if (w.length === 0) return undefined;
    const id = (d: object) => {
      let n = this.windowIds.get(d);
      if (n === undefined) this.windowIds.set(d, (n = this.nextWindowId++));
      return n;
    };
    const filters = filtersKey(selection.filters ?? {});
    return `${format} ${selection.kind} ${[...selection.pids].sort((a, b) => a - b).join(',')} ${filters} ${id(w[0])}-${id(w[w.length - 1])}/${w.length}`;
  }

  /** Builds a selection's profile a slice at a time: gzipped pprof, or a flamegraph page laid out in the worker. */
  private async build(selection: ProfileSelection, format: BuildFormat, signal: AbortSignal, priority: boolean, view: BuildView = {}): Promise<Uint8Array> {
    const release = await this.builds.acquire(signal, priority);
    try {
      if (format === 'pprof') {
        const { profile } = await this.slicer.run(buildSelectionSteps(selection), signal);
        const raw = await this.slicer.run(encodePprofSteps(profile), signal);
        await this.slicer.run(this.symbols.rememberProfileSteps(profile), signal);
        return await gzipPprof(raw);
      }
      // The page asks for a selection's graph and its table at once: both read one shared fold of it. The
      // worker gets a copy (structured clone): the kept fold serves the next request of the view.
      const fold = await this.foldOf(selection, signal, priority);
      const key = priority ? undefined : this.selectionKey(selection, 'fold');
      const baseFold = view.base ? await this.foldOf(view.base, signal, priority) : undefined;
      if (format === 'top') {
        const { html } = await this.render.run({ type: 'top', fold, baseFold, key });
        return html ?? new Uint8Array();
      }
      const what = selection.kind === 'cpu' ? 'CPU' : selection.kind === 'offcpu' ? 'off-CPU' : 'wall-clock';
      const title = view.focus
        ? `${view.view === 'callers' ? 'Callers' : 'Callees'} of ${view.focus}${baseFold ? ' (compared)' : ''}`
        : `hotpath ${what} ${baseFold ? 'differential ' : ''}flamegraph`;
      const { html } = await this.render.run({ type: 'flamegraph', fold, title, key, focus: view.focus, view: view.view, baseFold, width: view.width, inverted: view.inverted }, [], { first: true });
      return html ?? new Uint8Array();
    } finally {
      release();
    }
  }

  /**
   * A selection folded for the flamegraph and the top table (windows/fold-stored.ts), shared by key between the
   * graph, table and compare requests of one view. The same stacks as its pprof profile would give.
   */
  private foldOf(selection: ProfileSelection, signal: AbortSignal, live: boolean): Promise<StoredFold> {
    const key = live ? undefined : this.selectionKey(selection, 'fold');
    return this.folds.get(key, signal, (buildSignal) =>
      this.slicer.run(
        foldStoredSteps({
          sampleTypes: selection.header.sampleTypes,
          period: selection.header.period,
          defaultSampleType: selection.header.defaultSampleType,
          windows: selection.windows,
          catalog: selection.catalog,
          pids: selection.pids,
          filters: selection.filters,
        }),
        buildSignal,
      ),
    );
  }

  /** /api/timeline?type=cpu|offcpu&by=comm|process|pid|container|pod|tid[&from&to][&filters]: JSON, bounded. */
  private timelineRoute(res: ServerResponse, route: string, url: URL): void {
    const { agent } = this.opts;
    const p = url.searchParams;
    let kind: 'cpu' | 'offcpu';
    let by: FilterLabel;
    let span: { fromNs: bigint; toNs: bigint };
    let filters;
    try {
      for (const key of p.keys()) {
        if (!['type', 'by', 'from', 'to', 'pid', ...FILTER_LABELS].includes(key)) throw new QueryError(400, `unknown query parameter "${key}" (known: type, by, from, to, ${FILTER_LABELS.join(', ')})`);
      }
      const type = p.get('type') ?? 'cpu';
      if (type !== 'cpu' && type !== 'offcpu') throw new QueryError(400, `invalid type "${type}": expected cpu or offcpu`);
      kind = type;
      const b = p.get('by') ?? 'comm';
      if (!(FILTER_LABELS as readonly string[]).includes(b)) throw new QueryError(400, `invalid by "${b}": expected one of ${FILTER_LABELS.join(', ')}`);
      by = b as FilterLabel;
      span = this.spanOf(p);
      filters = parseLabelFilters(p);
      const pids = p.getAll('pid').flatMap((v) => v.split(','));
      for (const pid of pids) if (!/^\d{1,7}$/.test(pid) || Number(pid) < 1) throw new QueryError(400, `invalid pid "${pid}": expected a process id`);
      if (pids.length > 0) filters.pid = pids;
    } catch (err) {
      if (err instanceof QueryError) return this.reject(res, route, err.status, err.message);
      throw err;
    }
    if (!agent.hasProfile(kind)) return this.reject(res, route, 404, `the ${kind} profiler is not running (see hotpath serve --programs)`);
    sendJson(res, JSON.stringify(this.timeline(kind, by, span, filters)));
  }

  /** The body of /api/timeline. */
  private timeline(kind: 'cpu' | 'offcpu', by: FilterLabel, span: { fromNs: bigint; toNs: bigint }, filters: LabelFilters): object {
    const sel = this.opts.agent.history(kind, span.fromNs, span.toNs, []);
    const timeline = timelineOf(sel.windows, sel.catalog, {
      by,
      filters,
      valueIndex: kind === 'cpu' ? 0 : 1,
      scale: kind === 'cpu' ? 1 : 1e-9,
      unit: kind === 'cpu' ? 'samples' : 'seconds',
      top: MAX_TIMELINE_SERIES,
    });
    return { type: kind, by, ...timeline };
  }

  /** /api/heatmap?metric=runqlat|biolatency[&device&operation][&from&to]: per-window log2 latency counts. */
  private heatmapRoute(res: ServerResponse, route: string, url: URL): void {
    const { agent } = this.opts;
    const p = url.searchParams;
    let metric: 'runqlat' | 'biolatency';
    let span: { fromNs: bigint; toNs: bigint };
    try {
      for (const key of p.keys()) {
        if (!['metric', 'device', 'operation', 'from', 'to'].includes(key)) throw new QueryError(400, `unknown query parameter "${key}" (known: metric, device, operation, from, to)`);
      }
      const m = p.get('metric') ?? 'runqlat';
      if (m !== 'runqlat' && m !== 'biolatency') throw new QueryError(400, `invalid metric "${m}": expected runqlat or biolatency`);
      metric = m;
      for (const k of ['device', 'operation']) {
        if ((p.get(k)?.length ?? 0) > 256) throw new QueryError(400, `invalid ${k}: longer than 256 characters`);
      }
      span = this.spanOf(p);
    } catch (err) {
      if (err instanceof QueryError) return this.reject(res, route, err.status, err.message);
      throw err;
    }
    if (!agent.latencyPrograms.includes(metric)) return this.reject(res, route, 404, `the ${metric} program is not running (see hotpath serve --programs)`);
    const where = { device: p.get('device') || undefined, operation: p.get('operation') || undefined };
    sendJson(res, JSON.stringify(agent.latencyHistory.heatmap(metric, span.fromNs, span.toNs, where)));
  }

  /** from/to of an API query, clamped to the retained history; both absent: all of it. */
  private spanOf(p: URLSearchParams): { fromNs: bigint; toNs: bigint } {
    const now = this.opts.nowNs();
    const from = p.get('from');
    const to = p.get('to');
    if (from === null && to === null) return { fromNs: now - this.opts.retentionNs, toNs: now };
    if (from === null || to === null) throw new QueryError(400, 'from and to go together');
    const fromNs = parseTimestamp('from', from);
    const toNs = parseTimestamp('to', to);
    if (toNs <= fromNs) throw new QueryError(400, `to (${to}) must be after from (${from})`);
    return { fromNs, toNs };
  }

  private async metricsRoute(res: ServerResponse): Promise<void> {
    const reuse = this.metricsText;
    let text: string;
    if (reuse && performance.now() - reuse.startedMs < this.limits.metricsReuseMs) {
      text = reuse.text;
    } else {
      const startedMs = performance.now();
      this.metricsCollecting ??= this.opts.metrics
        .collect()
        .then(({ text: t }) => {
          this.metricsText = { text: t, startedMs };
          return t;
        })
        .finally(() => {
          this.metricsCollecting = null;
        });
      text = await this.metricsCollecting;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(text);
  }

  /** POST: the body is the query; GET: the raw query string (Go reads both the same way). */
  private async symbolRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let query = url.search.slice(1);
    if (req.method === 'POST') {
      const body = await readBody(req, MAX_SYMBOL_QUERY_BYTES);
      if (body === null) {
        // The rest of the body is not read: answer, then drop the connection.
        res.once('finish', () => req.destroy());
        return this.reject(res, url.pathname, 413, `symbol query larger than ${MAX_SYMBOL_QUERY_BYTES} bytes`, { Connection: 'close' });
      }
      query = body;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end(this.symbols.answer(query));
  }
}

/** The request body as text, or null (and the rest left unread) when it exceeds `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    req.on('error', reject);
  });
}
