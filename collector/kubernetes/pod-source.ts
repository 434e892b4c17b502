// Keeps a PodIndex of this node's pods up to date, from the API server (list, then watch from the list's
// resourceVersion; 410 Gone relists) or from the kubelet's /pods (polled). Runs in the background: lookups
// never wait on it, errors are counted and retried with backoff, and it never throws into the agent.
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { PodIndex, type PodJson, type PodLabels } from './pod-index.js';

export type PodSourceKind = 'api' | 'kubelet';

export interface PodSourceOptions {
  kind: PodSourceKind;
  /** The node whose pods are watched (spec.nodeName). */
  nodeName: string;
  /** API server (api) or kubelet (kubelet) base URL, e.g. https://10.96.0.1:443 or https://node-1:10250. */
  baseUrl: string;
  /** Bearer token file (re-read for every request: projected tokens are rotated); none when undefined. */
  tokenFile?: string;
  /** CA bundle for an https base URL; the system's CAs when undefined. */
  caFile?: string;
  /** At most this many pods held (default 1000: a node runs at most 110 by default). */
  maxPods?: number;
  /** kubelet: how often /pods is read (default 15 s). */
  pollMs?: number;
  log?: (line: string) => void;
}

export interface PodSourceStats {
  pods: number;
  podsDropped: number;
  /** Failed requests and bad answers by reason (connect, http_<status>, decode, gone, token). */
  errors: Readonly<Record<string, number>>;
  /** Full lists read (the first, and after 410 Gone or errors). */
  lists: number;
  /** Watch events applied. */
  events: number;
}

const MAX_BACKOFF_MS = 30_000;
const WATCH_TIMEOUT_SECONDS = 300;
/** One watch event (a pod's JSON) larger than this is refused: the stream restarts with a relist. */
const MAX_EVENT_BYTES = 4 << 20;
const MAX_LIST_BYTES = 64 << 20;

class PodSourceError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

export class PodSource {
  readonly index: PodIndex;
  private readonly errors: Record<string, number> = {};
  private lists = 0;
  private events = 0;
  private resourceVersion: string | undefined;
  private readonly abort = new AbortController();
  private readonly dispatcher: Dispatcher;
  private running: Promise<void> | undefined;
  private readonly log: (line: string) => void;
  private failing = false;

  constructor(private readonly options: PodSourceOptions) {
    this.index = new PodIndex(options.maxPods ?? 1000);
    this.log = options.log ?? (() => {});
    const ca = options.caFile ? readFileSync(options.caFile, 'utf8') : undefined;
    // The watch answer is a stream that stays open for minutes: no body timeout shorter than the watch's own.
    this.dispatcher = new Agent({
      connect: ca ? { ca } : {},
      headersTimeout: 30_000,
      bodyTimeout: (WATCH_TIMEOUT_SECONDS + 60) * 1000,
      connections: 2,
    });
  }

  /** Starts the background loop; lookups answer from what is known so far. */
  start(): void {
    this.running ??= this.loop().catch(() => undefined);
  }

  lookup(podUid: string | undefined, containerId: string | undefined): PodLabels | undefined {
    return this.index.lookup(podUid, containerId);
  }

  stats(): PodSourceStats {
    return { ...this.index.stats, errors: { ...this.errors }, lists: this.lists, events: this.events };
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.dispatcher.close().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let backoffMs = 500;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (this.options.kind === 'kubelet') {
          await this.list();
          await sleep(this.options.pollMs ?? 15_000, signal);
        } else {
          if (this.resourceVersion === undefined) await this.list();
          await this.watch();
        }
        backoffMs = 500;
      } catch (err) {
        if (signal.aborted) return;
        const reason = err instanceof PodSourceError ? err.reason : 'connect';
        this.errors[reason] = (this.errors[reason] ?? 0) + 1;
        if (reason === 'gone' && this.resourceVersion !== undefined) {
          // The watch's resourceVersion is too old: list again, at once (a list answered 410 waits as any error).
          this.resourceVersion = undefined;
          continue;
        }
        if (!this.failing) this.log(`hotpath serve: kubernetes ${this.options.kind}: ${(err as Error).message.split('\n')[0]}; retrying`);
        this.failing = true;
        // Reconnect to a fresh list after errors: events may have been missed.
        this.resourceVersion = undefined;
        await sleep(backoffMs * (0.8 + Math.random() * 0.4), signal);
        backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
      }
    }
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.tokenFile) {
      let token: string;
      try {
        token = readFileSync(this.options.tokenFile, 'utf8').trim();
      } catch (err) {
        throw new PodSourceError('token', `read token ${this.options.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      headers.authorization = `Bearer ${token}`;
    }
    return headers;
  }

  private url(query: Record<string, string>): string {
    const base = this.options.baseUrl.replace(/\/+$/, '');
    if (this.options.kind === 'kubelet') return `${base}/pods`;
    const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${this.options.nodeName}`, ...query });
    return `${base}/api/v1/pods?${q}`;
  }

  private async get(url: string): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { headers: this.headers(), dispatcher: this.dispatcher, signal: this.abort.signal });
    } catch (err) {
      if (err instanceof PodSourceError) throw err;
      throw new PodSourceError('connect', `GET ${url}: ${(err as Error).message}`);
    }
    if (res.statusCode === 410) {
      await res.body.dump();
      throw new PodSourceError('gone', `GET ${url}: 410 Gone`);
    }
    if (res.statusCode !== 200) {
      const text = (await res.body.text().catch(() => '')).slice(0, 200);
      throw new PodSourceError(`http_${res.statusCode}`, `GET ${url}: ${res.statusCode} ${text}`);
    }
    return res;
  }

  /** Reads every pod of the node (in pages on the API server) and replaces the index with them. */
  private async list(): Promise<void> {
    const pods: PodJson[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const res = await this.get(this.url(cont ? { limit: '500', continue: cont } : { limit: '500' }));
      const list = (await readJson(res, MAX_LIST_BYTES)) as { items?: PodJson[]; metadata?: { resourceVersion?: string; continue?: string } };
      if (!list || !Array.isArray(list.items)) throw new PodSourceError('decode', 'pod list without items');
      pods.push(...list.items);
      resourceVersion = list.metadata?.resourceVersion;
      cont = list.metadata?.continue || undefined;
    } while (cont && this.options.kind === 'api');
    this.index.replace(pods);
    this.resourceVersion = resourceVersion;
    this.lists++;
    if (this.failing) this.log(`hotpath serve: kubernetes ${this.options.kind}: ${this.index.stats.pods} pods on ${this.options.nodeName}`);
    this.failing = false;
  }

  /** Applies watch events until the server ends the stream (its timeout): then the caller watches again. */
  private async watch(): Promise<void> {
    const res = await this.get(
      this.url({
        watch: 'true',
        resourceVersion: this.resourceVersion ?? '',
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(WATCH_TIMEOUT_SECONDS),
      }),
    );
    let pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk as Buffer, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim()) this.apply(line);
      }
      if (pending.length > MAX_EVENT_BYTES) {
        res.body.destroy();
        throw new PodSourceError('decode', `watch event over ${MAX_EVENT_BYTES} bytes`);
      }
    }
    if (pending.trim()) this.apply(pending);
  }

  private apply(line: string): void {
    let event: { type?: string; object?: PodJson & { code?: number; message?: string } };
    try {
      event = JSON.parse(line);
    } catch {
      throw new PodSourceError('decode', 'watch event is not JSON');
    }
    const object = event.object ?? {};
    if (event.type === 'ERROR') {
      // A Status object; 410 Gone: the resourceVersion was compacted away.
      if (object.code === 410) throw new PodSourceError('gone', `watch: ${object.message ?? '410 Gone'}`);
      throw new PodSourceError(`http_${object.code ?? 'error'}`, `watch: ${object.message ?? 'error event'}`);
    }
    const rv = object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') this.index.upsert(object);
    else if (event.type === 'DELETED') this.index.remove(object);
    else return; // BOOKMARK: only the resourceVersion moves on
    this.events++;
  }
}

async function readJson(res: Dispatcher.ResponseData, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      res.body.destroy();
      throw new PodSourceError('decode', `answer over ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new PodSourceError('decode', 'answer is not JSON');
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
