// A Pyroscope push receiver for tests: a node:http server answering POST /push.v1.PusherService/Push as the
// Connect protocol does, decoding each request with protobufjs (from the API's .proto files beside this one)
// and the gzipped pprof inside with pprof-format. Nothing here reads bytes by hand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { Profile } from 'pprof-format';

const here = dirname(fileURLToPath(import.meta.url));

/** push.v1.PushRequest, loaded from the API's .proto files. */
export function loadPushRequestType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(here, target);
  root.loadSync('push/v1/push.proto');
  return root.lookupType('push.v1.PushRequest');
}

export interface ReceivedSeries {
  labels: Record<string, string>;
  profiles: Profile[];
  /** Gzipped pprof bytes as sent. */
  rawBytes: number[];
}

export interface ReceivedRequest {
  headers: IncomingMessage['headers'];
  bodyBytes: number;
  series: ReceivedSeries[];
  at: number;
}

interface DecodedRequest {
  series?: { labels?: { name?: string; value?: string }[]; samples?: { rawProfile?: Uint8Array; ID?: string }[] }[];
}

/** Decodes a PushRequest body: labels as a record, every sample's pprof decoded (gunzipped first). */
export function decodePushRequest(type: protobuf.Type, body: Uint8Array): ReceivedSeries[] {
  const msg = type.toObject(type.decode(body), { defaults: true }) as DecodedRequest;
  return (msg.series ?? []).map((s) => {
    const labels: Record<string, string> = {};
    for (const l of s.labels ?? []) {
      if (l.name! in labels) throw new Error(`duplicate label ${l.name}`);
      labels[l.name!] = l.value!;
    }
    const samples = s.samples ?? [];
    return {
      labels,
      profiles: samples.map((x) => Profile.decode(gunzipSync(x.rawProfile!))),
      rawBytes: samples.map((x) => x.rawProfile!.length),
    };
  });
}

export interface PushReceiver {
  port: number;
  url: string;
  requests: ReceivedRequest[];
  /** Answer the next requests with this status and Connect error body (until set back to undefined). */
  failWith?: { status: number; code: string; message: string };
  close(): Promise<void>;
  /** Listens again on the same port after close(). */
  reopen(): Promise<void>;
}

export async function startPushReceiver(port = 0): Promise<PushReceiver> {
  const type = loadPushRequestType();
  let server: Server;
  const receiver: PushReceiver = {
    port,
    url: '',
    requests: [],
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
    reopen: () => listen(receiver.port),
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const error = (status: number, code: string, message: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code, message }));
      };
      if (req.method !== 'POST' || req.url !== '/push.v1.PusherService/Push') return error(404, 'unimplemented', `no route ${req.url}`);
      if (req.headers['content-type'] !== 'application/proto') return error(415, 'invalid_argument', 'content-type');
      if (receiver.failWith) return error(receiver.failWith.status, receiver.failWith.code, receiver.failWith.message);
      const body = Buffer.concat(chunks);
      let series: ReceivedSeries[];
      try {
        series = decodePushRequest(type, body);
      } catch (err) {
        return error(400, 'invalid_argument', (err as Error).message);
      }
      receiver.requests.push({ headers: req.headers, bodyBytes: body.length, series, at: Date.now() });
      res.writeHead(200, { 'content-type': 'application/proto' });
      res.end(); // an empty PushResponse
    });
  };
  const listen = (p: number) => new Promise<void>((resolve, reject) => {
    server = createServer(handle);
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}`;
      resolve();
    });
  });
  await listen(port);
  return receiver;
}
