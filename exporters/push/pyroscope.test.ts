// PyroscopePusher against a local receiver that decodes what it gets with protobufjs and pprof-format.
import { afterEach, describe, expect, it } from 'vitest';
import type { ProfileData } from '../pprof/types.js';
import { classifyStatus, connectErrorMessage, pushEndpoint, PyroscopePusher } from './pyroscope.js';
import { startPushReceiver, type PushReceiver } from './test-support/pyroscope-receiver.js';

function cpuWindow(startSec: number): ProfileData {
  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_101_010,
    timeNanos: BigInt(startSec) * 1_000_000_000n,
    durationNanos: 10_000_000_000n,
    samples: [
      { frames: [{ address: 1n, functionName: 'spin', kind: 'native' }], values: [5, 5 * 10_101_010], numLabels: { pid: 7 }, strLabels: { comm: 'app', process: 'app' } },
      { frames: [{ address: 2n, functionName: 'idle_loop', kind: 'kernel' }], values: [1, 10_101_010], numLabels: { pid: 8 }, strLabels: { comm: 'kworker/0:1', process: 'kworker/0:1' } },
    ],
  };
}

describe('PyroscopePusher', () => {
  let receiver: PushReceiver | undefined;
  let pusher: PyroscopePusher | undefined;
  afterEach(async () => {
    await pusher?.close();
    await receiver?.close();
  });

  it('pushes each window as one Connect request with the configured headers and labels', async () => {
    receiver = await startPushReceiver();
    pusher = new PyroscopePusher({
      url: `${receiver.url}/`,
      headers: { authorization: 'Bearer s3cret', 'x-scope-orgid': 'team-a' },
      extraLabels: { env: 'test' },
      log: () => {},
    });
    pusher.offerWindow('cpu', cpuWindow(1000));
    pusher.offerWindow('offcpu', { ...cpuWindow(1000), sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'offcpu', unit: 'nanoseconds' }] });
    pusher.offerWindow('runqlat', cpuWindow(1000)); // not a profile Pyroscope gets
    await pusher.flushed();
    expect(receiver.requests).toHaveLength(2);
    const [cpu, off] = receiver.requests;
    expect(cpu.headers['connect-protocol-version']).toBe('1');
    expect(cpu.headers.authorization).toBe('Bearer s3cret');
    expect(cpu.headers['x-scope-orgid']).toBe('team-a');
    expect(cpu.series.map((s) => s.labels)).toEqual([
      { __delta__: 'false', __name__: 'process_cpu', service_name: 'app', process: 'app', env: 'test' },
      { __delta__: 'false', __name__: 'process_cpu', service_name: 'kworker/0:1', process: 'kworker/0:1', env: 'test' },
    ]);
    expect(off.series[0].labels.__name__).toBe('off_cpu');
    const p = cpu.series[0].profiles[0];
    expect(p.function.map((f) => p.stringTable.strings[Number(f.name)])).toEqual(['spin']);
    const st = pusher.stats();
    expect(st.requests).toEqual({ success: 2 });
    expect(st.sentBytes).toBe(cpu.bodyBytes + off.bodyBytes);
    expect(st.requestsQueued).toBe(2);
    expect(st.seriesQueued).toBe(4);
  });

  it('retries 503 and 429 until the receiver takes it; drops what it refuses with a 4xx', async () => {
    receiver = await startPushReceiver();
    const logged: string[] = [];
    pusher = new PyroscopePusher({ url: receiver.url, minBackoffMs: 20, maxBackoffMs: 50, log: (l) => logged.push(l) });
    receiver.failWith = { status: 503, code: 'unavailable', message: 'ingesters starting' };
    pusher.offerWindow('cpu', cpuWindow(1));
    while ((pusher.stats().requests.server_error ?? 0) < 3) await new Promise((r) => setTimeout(r, 10));
    receiver.failWith = undefined;
    await pusher.flushed();
    expect(receiver.requests).toHaveLength(1);
    expect(logged.join('\n')).toMatch(/failing \(server_error: HTTP 503 unavailable: ingesters starting\)/);
    receiver.failWith = { status: 400, code: 'invalid_argument', message: 'invalid labels' };
    pusher.offerWindow('cpu', cpuWindow(2));
    await pusher.flushed();
    expect(pusher.stats().dropped.rejected).toBe(1);
    expect(pusher.stats().requests.rejected).toBe(1);
    expect(logged.join('\n')).toMatch(/refused \(rejected: HTTP 400 invalid_argument: invalid labels\)/);
  });

  it('close() aborts a request the receiver never answers and returns at once', async () => {
    const { createServer } = await import('node:http');
    const hung = createServer(() => {}); // reads the request, never answers
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as { port: number }).port;
    try {
      pusher = new PyroscopePusher({ url: `http://127.0.0.1:${port}`, log: () => {} });
      pusher.offerWindow('cpu', cpuWindow(1));
      while (pusher.stats().queueItems === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await pusher.close();
      await new Promise((r) => setTimeout(r, 10));
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(pusher.stats().dropped.shutdown).toBe(1);
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  });

  it('builds the endpoint under the URL path and classifies answers as Connect does', () => {
    expect(pushEndpoint('https://profiles.example.com/prefix/?x=1').href).toBe('https://profiles.example.com/prefix/push.v1.PusherService/Push');
    expect(classifyStatus(200).action).toBe('success');
    expect(classifyStatus(429).action).toBe('retry');
    expect(classifyStatus(502).action).toBe('retry');
    expect(classifyStatus(401).action).toBe('drop');
    expect(connectErrorMessage(401, '{"code":"unauthenticated","message":"no token"}')).toBe('HTTP 401 unauthenticated: no token');
    expect(connectErrorMessage(502, '<html>\n bad gateway</html>')).toBe('HTTP 502: <html> bad gateway</html>');
  });
});
