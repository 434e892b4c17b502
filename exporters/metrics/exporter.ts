// The Prometheus side: an OTel PrometheusExporter (a MetricReader) fed by HotpathMetricProducer, served by
// the agent's own HTTP server rather than the exporter's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { HotpathMetricProducer, type HotpathMetricProducerOptions, type MetricsSource } from './producer.js';

export type MetricsExporterOptions = HotpathMetricProducerOptions;

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
  const producer = new HotpathMetricProducer(source, options);
  const quiet = { withoutScopeInfo: true, withoutTargetInfo: true } as const;
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [producer], ...quiet });
  // A reader only collects once bound to a MeterProvider, which supplies the SDK's (here empty) metrics.
  const meterProvider = new MeterProvider({ readers: [exporter], resource: emptyResource() });
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
    shutdown: () => meterProvider.shutdown(),
  };
}
