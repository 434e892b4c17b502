// The OTLP side: the same HotpathMetricProducer that feeds /metrics, read by a PeriodicExportingMetricReader
// and pushed with the OpenTelemetry OTLP/HTTP protobuf exporter. Failed exports are counted by why, never
// retried beyond what the OTel exporter does within one interval, and never wait on anything of the agent's.
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import {
  AggregationTemporality,
  PeriodicExportingMetricReader,
  type InstrumentType,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { PushStats } from './producer.js';

export interface OtlpPushOptions {
  /** The full OTLP/HTTP metrics URL, e.g. http://collector:4318/v1/metrics. */
  url: string;
  /** How often the metrics are pushed. */
  intervalMs: number;
  /** Extra request headers (authentication). */
  headers?: Record<string, string>;
  /** One export, retries included, gives up after this long (default: the interval, at most 10 s). */
  timeoutMs?: number;
  /** Told when pushing starts failing and when it works again (one line each, not one per export). */
  log?: (line: string) => void;
}

/** At most this many exports (each one collect's worth of bytes) in flight: memory stays bounded. */
const MAX_EXPORTS_IN_FLIGHT = 2;

/**
 * Why an export failed, from the error the OTLP exporter reports: a network error (`code` like ECONNREFUSED),
 * its own timeout, an HTTP status it does not retry (`code` a number), retries used up (429, 502-504), or the
 * exporter refusing to start another export while too many are in flight.
 */
export function otlpDropReason(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (typeof e?.code === 'number') return 'rejected';
  if (/timed out|timeout/i.test(message)) return 'timeout';
  if (/concurrent export limit/i.test(message)) return 'busy';
  if (/retryable status|max(imum)? retr/i.test(message)) return 'retries_exhausted';
  if (typeof e?.code === 'string') return 'unreachable';
  return 'other';
}

/** A PushMetricExporter around OTLPMetricExporter that counts every export's outcome. */
class CountingExporter implements PushMetricExporter {
  readonly stats: { target: string; exports: number; dropped: Record<string, number> } = { target: 'otlp', exports: 0, dropped: {} };
  private failing = false;

  constructor(
    private readonly inner: OTLPMetricExporter,
    private readonly url: string,
    private readonly log: (line: string) => void,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === 0) {
        this.stats.exports++;
        if (this.failing) this.log(`hotpath serve: OTLP export to ${this.url} works again`);
        this.failing = false;
      } else {
        const reason = otlpDropReason(result.error);
        this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
        if (!this.failing) {
          const why = result.error instanceof Error ? result.error.message : String(result.error);
          this.log(`hotpath serve: OTLP export to ${this.url} failed (${reason}: ${why.split('\n')[0]}); counted in hotpath_push_dropped_total`);
        }
        this.failing = true;
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(_instrumentType: InstrumentType): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }
}

export interface OtlpPush {
  /** Register on the MeterProvider whose producers /metrics reads. */
  readonly reader: PeriodicExportingMetricReader;
  stats(): PushStats;
}

/**
 * createOtlpPush builds the reader that pushes `producer`'s metrics every `intervalMs`. Temporality is
 * cumulative, as the kernel maps are: a receiver that misses exports loses resolution, not counts.
 */
export function createOtlpPush(producer: MetricProducer, options: OtlpPushOptions): OtlpPush {
  const timeoutMs = Math.max(1, Math.min(options.timeoutMs ?? 10_000, options.intervalMs));
  const inner = new OTLPMetricExporter({
    url: options.url,
    headers: options.headers,
    timeoutMillis: timeoutMs,
    concurrencyLimit: MAX_EXPORTS_IN_FLIGHT,
    // Measured with every program: 11.3 KB of protobuf per export, 2.6 KB gzipped.
    compression: CompressionAlgorithm.GZIP,
  });
  const exporter = new CountingExporter(inner, options.url, options.log ?? (() => {}));
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: options.intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [producer],
  });
  return {
    reader,
    // Each export is one request: accepted (`success`) or given up for the reason it is dropped with (`busy`:
    // never sent, the exports in flight were at their limit).
    stats: () => {
      const { target, exports, dropped } = exporter.stats;
      const requests: Record<string, number> = { success: exports };
      for (const [reason, n] of Object.entries(dropped)) if (reason !== 'busy') requests[reason] = n;
      return { target, requests, dropped: { ...dropped } };
    },
  };
}

/**
 * Parses a headers file: one `Name: value` per line; blank lines and lines starting with `#` are skipped.
 * Returns the headers or an error naming the line.
 */
export function parseHeadersFile(text: string): { ok: true; headers: Record<string, string> } | { ok: false; error: string } {
  const headers: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return { ok: false, error: `line ${i + 1}: expected "Name: value"` };
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) return { ok: false, error: `line ${i + 1}: control character in the value` };
    headers[name] = value;
  }
  return { ok: true, headers };
}
