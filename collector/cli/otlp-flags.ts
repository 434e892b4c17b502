// --otlp-endpoint, --otlp-interval and --otlp-headers-file of `serve`: help lines, option declarations, parser.
import { readFileSync } from 'node:fs';
import { parseHeadersFile, type OtlpPushOptions } from '../../exporters/metrics/index.js';
import { usageError } from '../errors.js';
import { parseDuration } from './flags.js';

export const OTLP_HELP = `  --otlp-endpoint URL  also push the /metrics metrics (latency histograms with their buckets) over OTLP/HTTP
                       protobuf to this receiver, e.g. http://otel-collector:4318 (/v1/metrics is added when
                       the URL has no path). Resource: host.name, service.name=hotpath, service.version and
                       k8s.node.name when known. Failed exports are counted in hotpath_push_dropped_total
  --otlp-interval DURATION
                       how often to push (default 30s; 1s to 1h). One export, retries included, gives up
                       after the interval or 10 s, whichever is shorter
  --otlp-headers-file FILE
                       request headers for the receiver, one "Name: value" per line (e.g. Authorization)
`;

export const OTLP_OPTIONS = {
  'otlp-endpoint': { type: 'string' },
  'otlp-interval': { type: 'string', default: '30s' },
  'otlp-headers-file': { type: 'string' },
} as const;

/** The OTLP metrics URL for --otlp-endpoint: http(s) only; a URL without a path gets /v1/metrics. */
export function otlpMetricsUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`invalid value for --otlp-endpoint: "${text}" (expected a URL such as http://collector:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`invalid value for --otlp-endpoint: "${text}" (http or https only: OTLP/HTTP)`);
  }
  if (url.username || url.password) throw usageError('invalid value for --otlp-endpoint: credentials in the URL (use --otlp-headers-file)');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
  return url.toString();
}

/** The push options, or undefined without --otlp-endpoint. Throws usage errors (exit 2). */
export function parseOtlpFlags(values: Record<string, unknown>): Omit<OtlpPushOptions, 'log'> | undefined {
  const endpoint = values['otlp-endpoint'] as string | undefined;
  const intervalText = values['otlp-interval'] as string;
  const intervalSeconds = parseDuration('--otlp-interval', intervalText);
  if (intervalSeconds < 1 || intervalSeconds > 3600) throw usageError(`invalid value for --otlp-interval: ${intervalText} (1s to 1h)`);
  const headersFile = values['otlp-headers-file'] as string | undefined;
  if (endpoint === undefined) {
    if (headersFile !== undefined) throw usageError('--otlp-headers-file needs --otlp-endpoint');
    return undefined;
  }
  let headers: Record<string, string> | undefined;
  if (headersFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(headersFile, 'utf8');
    } catch (err) {
      throw usageError(`--otlp-headers-file ${headersFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const parsed = parseHeadersFile(text);
    if (!parsed.ok) throw usageError(`--otlp-headers-file ${headersFile}: ${parsed.error}`);
    headers = parsed.headers;
  }
  return { url: otlpMetricsUrl(endpoint), intervalMs: Math.round(intervalSeconds * 1000), headers };
}
