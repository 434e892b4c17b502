// The agent's HTTP server: the routes of the product contract (ARCHITECTURE.md §2 HTTP). Query validation
// (query.ts) and the symbol table (symbolz.ts) are pure; bad input gets a 4xx text/plain answer with
// X-Go-Pprof: 1 and the agent goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildPprof, encodePprofGzip } from '../../exporters/pprof/index.js';
import type { MetricsExporter } from '../../exporters/metrics/index.js';
import type { Agent } from '../agent/agent.js';
import { renderFlamegraph } from '../windows/output-formats.js';
import type { ProfileKind } from '../sources/index.js';
import { indexPage, pprofIndexPage } from './pages.js';
import { MAX_LIVE_SECONDS, parseProfileQuery, QueryError, type ProfileQuery } from './query.js';
import { SymbolTable } from './symbolz.js';

/** Largest symbol query body read (pprof posts about 20 bytes per unnamed address). */
export const MAX_SYMBOL_QUERY_BYTES = 2 * 1024 * 1024;

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

export class HttpServer {
  private readonly server: Server;
  private readonly opts: HttpServerOptions;
  private readonly log: (line: string) => void;
  /** Requests answered with a 4xx, by route. */
  readonly rejected = new Map<string, number>();
  /** Names of the addresses in the profiles served, for /debug/pprof/symbol. */
  readonly symbols = new SymbolTable();

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
    // pprof's symbolz client posts its address list: the symbol route is the one that takes a body.
    const allowed = path === '/debug/pprof/symbol' ? ['GET', 'HEAD', 'POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) {
      res.setHeader('Allow', allowed.join(', '));
      sendError(res, 405, `method ${req.method} not allowed`);
      return;
    }
    const { agent } = this.opts;
    switch (path) {
      case '/':
        return sendHtml(res, indexPage(agent.statuses));
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
      case '/debug/pprof/symbol':
        return this.symbolRoute(req, res, url);
      case '/debug/pprof/cmdline':
        // As Go: the command line, arguments separated by NUL bytes.
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
        res.end(process.argv.slice(1).join('\0'));
        return;
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
      this.symbols.remember(data);
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

  /** POST: the body is the query; GET: the raw query string (Go reads both the same way). */
  private async symbolRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let query = url.search.slice(1);
    if (req.method === 'POST') {
      const body = await readBody(req, MAX_SYMBOL_QUERY_BYTES);
      if (body === null) {
        // The rest of the body is not read: answer, then drop the connection.
        res.setHeader('Connection', 'close');
        res.once('finish', () => req.destroy());
        return this.reject(res, url.pathname, new QueryError(413, `symbol query larger than ${MAX_SYMBOL_QUERY_BYTES} bytes`));
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
