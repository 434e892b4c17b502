// debuginfod client: fetches the debug file of a stripped binary by GNU build-id
// (`GET <server>/buildid/<hex>/debuginfo`) into an on-disk cache. Fetches run in the background and never
// block a drain: the symbolizer asks for a build-id once and uses the file from a later window on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';

export interface DebuginfodOptions {
  /** Server base URLs, tried in order (DEBUGINFOD_URLS is a space-separated list). */
  urls: string[];
  /** Downloaded files go to `<cacheDir>/<build-id>/debuginfo`. */
  cacheDir: string;
  /** Per request: connect + headers, and the whole body. Default 10 s. */
  timeoutMs?: number;
  /** Largest debug file accepted. Default 256 MiB. */
  maxBytes?: number;
  /** Requests in flight at once. Default 2. */
  maxConcurrent?: number;
  /** Build-ids asked for and remembered (pending, done or failed). Default 4096. */
  maxTracked?: number;
  /** A failed build-id is asked again after this long. Default 10 min. */
  retryAfterMs?: number;
}

export interface DebuginfodStats {
  requested: number;
  fetched: number;
  notFound: number;
  failed: number;
  tooLarge: number;
  bytes: number;
  lastError?: string;
}

export const DEFAULT_DEBUGINFOD_CACHE = '/var/cache/hotpath/debuginfod';
const BUILD_ID = /^[0-9a-f]{8,128}$/;

export class DebuginfodClient {
  readonly stats: DebuginfodStats = { requested: 0, fetched: 0, notFound: 0, failed: 0, tooLarge: 0, bytes: 0 };
  private readonly opts: Required<DebuginfodOptions>;
  /** build-id → time of the last failure (0 while pending or after success). */
  private readonly tracked = new Map<string, number>();
  private readonly queue: string[] = [];
  private running = 0;
  private idle: Array<() => void> = [];

  constructor(options: DebuginfodOptions) {
    this.opts = {
      timeoutMs: 10_000,
      maxBytes: 256 << 20,
      maxConcurrent: 2,
      maxTracked: 4096,
      retryAfterMs: 600_000,
      ...options,
      urls: options.urls.map((u) => u.replace(/\/+$/, '')).filter((u) => /^https?:\/\//.test(u)),
    };
  }

  /**
   * A client configured from `DEBUGINFOD_URLS` (cache directory from `HOTPATH_DEBUGINFOD_CACHE`, default
   * /var/cache/hotpath/debuginfod), or undefined when no server is set.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): DebuginfodClient | undefined {
    const urls = (env.DEBUGINFOD_URLS ?? '').split(/\s+/).filter(Boolean);
    if (urls.length === 0) return undefined;
    const client = new DebuginfodClient({ urls, cacheDir: env.HOTPATH_DEBUGINFOD_CACHE || DEFAULT_DEBUGINFOD_CACHE });
    return client.opts.urls.length > 0 ? client : undefined;
  }

  /** Path of the cached debug file for `buildId`, if it has been downloaded (now or by an earlier run). */
  cachedPath(buildId: string): string | undefined {
    if (!BUILD_ID.test(buildId)) return undefined;
    const file = path.join(this.opts.cacheDir, buildId, 'debuginfo');
    try {
      return fs.statSync(file).isFile() ? file : undefined;
    } catch {
      return undefined;
    }
  }

  /** Starts a background fetch of `buildId` unless it is cached, in flight, or failed recently. Never throws. */
  request(buildId: string): void {
    if (!BUILD_ID.test(buildId) || this.opts.urls.length === 0) return;
    const last = this.tracked.get(buildId);
    if (last !== undefined && (last === 0 || Date.now() - last < this.opts.retryAfterMs)) return;
    if (this.cachedPath(buildId)) return;
    if (this.tracked.size >= this.opts.maxTracked) this.tracked.delete(this.tracked.keys().next().value!);
    this.tracked.set(buildId, 0);
    this.stats.requested++;
    this.queue.push(buildId);
    this.pump();
  }

  /** Resolves when no fetch is queued or running (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < this.opts.maxConcurrent && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.running++;
      this.fetchOne(id)
        .then((ok) => this.tracked.set(id, ok ? 0 : Date.now()))
        .catch((err: unknown) => {
          this.stats.failed++;
          this.stats.lastError = err instanceof Error ? err.message : String(err);
          this.tracked.set(id, Date.now());
        })
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) for (const f of this.idle.splice(0)) f();
        });
    }
  }

  /** Tries each server in turn; true once one served the file. */
  private async fetchOne(buildId: string): Promise<boolean> {
    for (const base of this.opts.urls) {
      const url = `${base}/buildid/${buildId}/debuginfo`;
      const signal = AbortSignal.timeout(this.opts.timeoutMs);
      let res;
      try {
        res = await request(url, { signal, headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs });
      } catch (err) {
        this.stats.failed++;
        this.stats.lastError = `GET ${url}: ${err instanceof Error ? err.message : String(err)}`;
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        if (res.statusCode === 404) this.stats.notFound++;
        else {
          this.stats.failed++;
          this.stats.lastError = `GET ${url}: HTTP ${res.statusCode}`;
        }
        continue;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > this.opts.maxBytes) {
        res.body.destroy();
        this.stats.tooLarge++;
        continue;
      }
      const dir = path.join(this.opts.cacheDir, buildId);
      await fs.promises.mkdir(dir, { recursive: true });
      const tmp = path.join(dir, `.debuginfo.${process.pid}.${Date.now()}`);
      const out = await fs.promises.open(tmp, 'w');
      let total = 0;
      let ok = true;
      try {
        for await (const chunk of res.body) {
          total += (chunk as Buffer).length;
          if (total > this.opts.maxBytes) {
            ok = false;
            this.stats.tooLarge++;
            res.body.destroy();
            break;
          }
          await out.write(chunk as Buffer);
        }
      } catch (err) {
        ok = false;
        this.stats.failed++;
        this.stats.lastError = `GET ${url}: ${err instanceof Error ? err.message : String(err)}`;
      } finally {
        await out.close();
      }
      if (!ok) {
        await fs.promises.rm(tmp, { force: true });
        continue;
      }
      // Rename last so a reader never sees a partial file.
      await fs.promises.rename(tmp, path.join(dir, 'debuginfo'));
      this.stats.fetched++;
      this.stats.bytes += total;
      return true;
    }
    return false;
  }
}
