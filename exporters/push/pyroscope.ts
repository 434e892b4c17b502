// PyroscopePusher: sends every window's CPU and off-CPU profiles to Grafana Pyroscope's push API, one request
// per window and profile type, each series a gzipped pprof of one service. offerWindow() returns at once: the
// window is split and encoded later, a series at a time between other work, and queued (push-queue.ts).
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { encodePprofGzip } from '../pprof/encode-pprof.js';
import type { ProfileData } from '../pprof/types.js';
import { PushQueue, type PushQueueStats, type QueuedBody, type SendResult } from './push-queue.js';
import { encodePushRequest, PYROSCOPE_PUSH_PATH, type PushSeries } from './pyroscope-request.js';
import { DEFAULT_MAX_SERIES, PYROSCOPE_PROFILE_NAMES, splitSeries } from './pyroscope-series.js';

export interface PyroscopeOptions {
  /** The server's base URL (http or https); the push path is appended to its path. */
  url: string;
  /** Sent with every request: authorization, X-Scope-OrgID, user-agent. */
  headers?: Readonly<Record<string, string>>;
  /** Added to every series (--pyroscope-label). */
  extraLabels?: Readonly<Record<string, string>>;
  maxSeries?: number;
  /** Queue bounds (default 16 MiB, 256 requests). */
  maxQueueBytes?: number;
  maxQueueItems?: number;
  /** Per request, connect to last byte (default 10 s). */
  timeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: (line: string) => void;
}

export const DEFAULT_PUSH_QUEUE_BYTES = 16 * 1024 * 1024;
const DEFAULT_QUEUE_ITEMS = 256;
/** Windows waiting to be encoded; more means encoding is behind (counted as encode_backlog drops). */
const MAX_PENDING_WINDOWS = 4;
/** The most of a refusal's body kept for the log. */
const MAX_ERROR_BODY = 4096;

export interface PushTargetStats extends PushQueueStats {
  target: string;
  /** Windows that never became a request: encode_backlog, encode_error. */
  windowsDropped: Record<string, number>;
  /** Requests queued since start and the series they held. */
  requestsQueued: number;
  seriesQueued: number;
}

/** The push endpoint of a base URL: `https://host/prefix` → `https://host/prefix/push.v1.PusherService/Push`. */
export function pushEndpoint(base: string): URL {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${PYROSCOPE_PUSH_PATH}`;
  u.search = '';
  u.hash = '';
  return u;
}

/** Classifies a Connect unary answer: 2xx delivered; 429 and 5xx worth retrying; other statuses refused. */
export function classifyStatus(status: number): Pick<SendResult, 'outcome' | 'action'> {
  if (status >= 200 && status < 300) return { outcome: 'success', action: 'success' };
  if (status === 429 || status >= 500) return { outcome: 'server_error', action: 'retry' };
  return { outcome: 'rejected', action: 'drop' };
}

/** The message of a Connect error body ({"code": "...", "message": "..."}), or the body's start. */
export function connectErrorMessage(status: number, body: string): string {
  try {
    const e = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return `HTTP ${status} ${e.code}${typeof e.message === 'string' ? `: ${e.message}` : ''}`;
  } catch {
    // not JSON: a proxy's page, say
  }
  return `HTTP ${status}${body ? `: ${body.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`;
}

export class PyroscopePusher {
  readonly endpoint: URL;
  private readonly queue: PushQueue;
  private readonly dispatcher: Agent;
  private readonly pending: { kind: string; data: ProfileData }[] = [];
  private encoding = false;
  private closed = false;
  private readonly windowsDropped: Record<string, number> = { encode_backlog: 0, encode_error: 0 };
  private requestsQueued = 0;
  private seriesQueued = 0;
  private readonly log: (line: string) => void;
  private readonly timeoutMs: number;

  constructor(private readonly opts: PyroscopeOptions) {
    this.endpoint = pushEndpoint(opts.url);
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.dispatcher = new Agent({ connectTimeout: this.timeoutMs, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    this.queue = new PushQueue({
      name: `pyroscope ${this.endpoint.origin}`,
      maxBytes: opts.maxQueueBytes ?? DEFAULT_PUSH_QUEUE_BYTES,
      maxItems: opts.maxQueueItems ?? DEFAULT_QUEUE_ITEMS,
      minBackoffMs: opts.minBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      log: this.log,
      send: (item, signal) => this.send(item, signal),
    });
  }

  /** Takes a window's profile (kinds other than cpu and offcpu are ignored); never waits. */
  offerWindow(kind: string, data: ProfileData): void {
    if (this.closed || !(kind in PYROSCOPE_PROFILE_NAMES) || data.samples.length === 0) return;
    if (this.pending.length >= MAX_PENDING_WINDOWS) {
      this.pending.shift();
      this.windowsDropped.encode_backlog++;
    }
    this.pending.push({ kind, data });
    if (!this.encoding) void this.encodePending();
  }

  private async encodePending(): Promise<void> {
    this.encoding = true;
    try {
      while (!this.closed && this.pending.length > 0) {
        const { kind, data } = this.pending.shift()!;
        try {
          await this.encodeWindow(kind, data);
        } catch (err) {
          this.windowsDropped.encode_error++;
          this.log(`push to pyroscope: encode ${kind} window: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      this.encoding = false;
    }
  }

  private async encodeWindow(kind: string, data: ProfileData): Promise<void> {
    const series = splitSeries(data, {
      profileName: PYROSCOPE_PROFILE_NAMES[kind],
      extraLabels: this.opts.extraLabels,
      maxSeries: this.opts.maxSeries ?? DEFAULT_MAX_SERIES,
    });
    const out: PushSeries[] = [];
    for (const s of series) {
      // One series per turn of the event loop: the drain timer and HTTP requests run in between.
      await nextTurn();
      if (this.closed) return;
      out.push({ labels: s.labels, samples: [{ rawProfile: await encodePprofGzip(s.data), id: randomUUID() }] });
    }
    if (out.length === 0) return;
    const at = new Date(Number(data.timeNanos / 1_000_000n)).toISOString();
    this.requestsQueued++;
    this.seriesQueued += out.length;
    this.queue.offer(encodePushRequest(out), `${kind} window of ${at}`);
  }

  private async send(item: QueuedBody, closing: AbortSignal): Promise<SendResult> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await request(this.endpoint, {
        method: 'POST',
        dispatcher: this.dispatcher,
        signal: AbortSignal.any([closing, timeout]),
        headers: {
          ...this.opts.headers,
          'content-type': 'application/proto',
          'connect-protocol-version': '1',
        },
        body: item.body,
      });
      const { outcome, action } = classifyStatus(res.statusCode);
      if (action === 'success') {
        await res.body.dump();
        return { outcome, action };
      }
      const text = (await res.body.text()).slice(0, MAX_ERROR_BODY);
      return { outcome, action, message: connectErrorMessage(res.statusCode, text) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (timeout.aborted && !closing.aborted) return { outcome: 'timeout', action: 'retry', message: `no answer in ${this.timeoutMs} ms` };
      return { outcome: 'network_error', action: 'retry', message };
    }
  }

  stats(): PushTargetStats {
    return {
      target: 'pyroscope',
      ...this.queue.stats(),
      windowsDropped: { ...this.windowsDropped },
      requestsQueued: this.requestsQueued,
      seriesQueued: this.seriesQueued,
    };
  }

  /** Resolves once every window offered so far is encoded and sent, or dropped (tests, measurements). */
  async flushed(): Promise<void> {
    while (this.encoding || this.pending.length > 0) await nextTurn();
    await this.queue.idle();
  }

  /** Stops: aborts the request in flight, drops what is queued (counted as shutdown). Never waits on the network. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.queue.close();
    await this.dispatcher.destroy().catch(() => {});
  }
}
