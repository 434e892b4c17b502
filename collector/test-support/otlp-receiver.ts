// A local OTLP/HTTP metrics receiver for tests: node:http, requests decoded with protobufjs from the
// opentelemetry-proto messages in otlp-metrics.proto (a real decoder: nothing here reads bytes by hand).
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { repoRoot } from './kernel.js';

const root = protobuf.loadSync(join(repoRoot, 'collector', 'test-support', 'otlp-metrics.proto'));
const ExportRequest = root.lookupType('otlp.ExportMetricsServiceRequest');
const ExportResponse = root.lookupType('otlp.ExportMetricsServiceResponse');

export interface DecodedKeyValue {
  key: string;
  value?: { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean };
}

export interface DecodedHistogramPoint {
  attributes?: DecodedKeyValue[];
  count: string;
  sum?: number;
  bucketCounts: string[];
  explicitBounds: number[];
  startTimeUnixNano: string;
  timeUnixNano: string;
}

export interface DecodedNumberPoint {
  attributes?: DecodedKeyValue[];
  asDouble?: number;
  asInt?: string;
}

export interface DecodedMetric {
  name: string;
  unit?: string;
  gauge?: { dataPoints: DecodedNumberPoint[] };
  sum?: { dataPoints: DecodedNumberPoint[]; aggregationTemporality: string; isMonotonic?: boolean };
  histogram?: { dataPoints: DecodedHistogramPoint[]; aggregationTemporality: string };
}

export interface DecodedExport {
  receivedAtMs: number;
  /** Bytes on the wire (the body as sent, compressed or not). */
  bytes: number;
  contentType: string;
  contentEncoding?: string;
  resourceMetrics: { resource?: { attributes?: DecodedKeyValue[] }; scopeMetrics?: { scope?: { name: string }; metrics?: DecodedMetric[] }[] }[];
}

/** The attributes as a plain record of strings. */
export function attributesOf(kvs: DecodedKeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs ?? []) out[kv.key] = String(kv.value?.stringValue ?? kv.value?.intValue ?? kv.value?.doubleValue ?? kv.value?.boolValue ?? '');
  return out;
}

export function metricsOf(e: DecodedExport): DecodedMetric[] {
  return e.resourceMetrics.flatMap((r) => (r.scopeMetrics ?? []).flatMap((s) => s.metrics ?? []));
}

export class OtlpReceiver {
  readonly exports: DecodedExport[] = [];
  readonly failures: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** Listens on `port` (0: any); a receiver started again after stop() takes the same port. */
  async start(port = 0): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        try {
          if (req.method !== 'POST' || req.url !== '/v1/metrics') throw new Error(`${req.method} ${req.url}`);
          const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
          const message = ExportRequest.decode(raw);
          const decoded = ExportRequest.toObject(message, { longs: String, enums: String, defaults: false, arrays: true }) as Pick<DecodedExport, 'resourceMetrics'>;
          this.exports.push({ receivedAtMs: Date.now(), bytes: body.length, contentType: String(req.headers['content-type']), contentEncoding: req.headers['content-encoding'], resourceMetrics: decoded.resourceMetrics ?? [] });
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end(Buffer.from(ExportResponse.encode(ExportResponse.create({})).finish()));
        } catch (err) {
          this.failures.push(String(err));
          res.writeHead(400).end();
        }
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  /** Goes away completely: listening socket and kept-alive connections (the agent then gets ECONNREFUSED). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
