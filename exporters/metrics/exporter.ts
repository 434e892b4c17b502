// The Prometheus side: an OTel PrometheusExporter (a MetricReader) fed by HotpathMetricProducer, served by
// the agent's own HTTP server rather than the exporter's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { createOtlpPush, type OtlpPush, type OtlpPushOptions } from './otlp.js';
import { HotpathMetricProducer, type HotpathMetricProducerOptions, type MetricsSource, type PushStats } from './producer.js';

export interface MetricsExporterOptions extends HotpathMetricProducerOptions {
  /** Also push the same metrics over OTLP. */
  otlp?: OtlpPushOptions;
  /**
   * Resource attributes of pushed metrics (host.name, service.name, k8s.node.name...). Not shown on /metrics:
   * Prometheus attaches its own target labels.
   */
  resource?: Readonly<Record<string, string>>;
  /** shutdown() gives the last push at most this long (default 2000 ms): SIGTERM must not wait on a receiver. */
  shutdownTimeoutMs?: number;
}

export interface MetricsExporter {
  readonly producer: HotpathMetricProducer;
  /** The SDK side, for instruments recorded in TypeScript; its metrics are served next to ours. */
  readonly meterProvider: MeterProvider;
  /** Answers one scrape (any method, any path: routing is the caller's job). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The exposition text a scrape would get now, with the non-fatal collection errors. */
  collect(): Promise<{ text: string; errors: unknown[] }>;
  /** The exposition text a scrape would get now. */
  collectText(): Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * createMetricsExporter wires `source` into a PrometheusExporter that never opens its own port.
 * target_info and the otel_scope_* labels are switched off: they describe OTel, not the host, and would add
 * a label set to every series that dashboards and recording rules would then have to carry.
 */
export function createMetricsExporter(source: MetricsSource, options: MetricsExporterOptions = {}): MetricsExporter {
  let push: OtlpPush | undefined;
  // The push outcomes are metrics of both sides: /metrics shows why the OTLP receiver misses exports.
  const withPush: MetricsSource = !options.otlp
    ? source
    : {
        ...source,
        push: (): PushStats[] => [...(source.push?.() ?? []), ...(push ? [push.stats()] : [])],
      };
  const producer = new HotpathMetricProducer(withPush, options);
  const quiet = { withoutScopeInfo: true, withoutTargetInfo: true } as const;
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [producer], ...quiet });
  const readers: MetricReader[] = [exporter];
  if (options.otlp) {
    push = createOtlpPush(producer, options.otlp);
    readers.push(push.reader);
  }
  // A reader only collects once bound to a MeterProvider, which supplies the SDK's (here empty) metrics and
  // the resource pushed metrics carry.
  const resource = options.resource ? resourceFromAttributes({ ...options.resource }) : emptyResource();
  const meterProvider = new MeterProvider({ readers, resource });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 2000;
  // Built as the exporter builds its own (prefix '', no timestamps, no resource labels), so collect() gives
  // the text a scrape gets; the HTTP test checks they agree.
  const serializer = new PrometheusSerializer('', false, undefined, quiet.withoutTargetInfo, quiet.withoutScopeInfo);

  const collect = async () => {
    const { resourceMetrics, errors } = await exporter.collect();
    return { text: serializer.serialize(resourceMetrics), errors };
  };
  return {
    producer,
    meterProvider,
    handle: (req, res) => exporter.getMetricsRequestHandler(req, res),
    collect,
    collectText: async () => (await collect()).text,
    // The OTLP reader pushes once more on shutdown; a receiver that does not answer costs at most the timeout.
    shutdown: () => meterProvider.shutdown({ timeoutMillis: shutdownTimeoutMs }).catch(() => undefined),
  };
}
