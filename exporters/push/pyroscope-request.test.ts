// The push request as Pyroscope reads it: decoded with protobufjs from the API's .proto files and the pprof
// inside with pprof-format, never by reading bytes here.
import { describe, expect, it } from 'vitest';
import type { ProfileData, ProfileSample } from '../pprof/types.js';
import { encodePprofGzip } from '../pprof/encode-pprof.js';
import { encodePushRequest } from './pyroscope-request.js';
import { OTHER_SERVICE, seriesLabelsOf, splitSeries } from './pyroscope-series.js';
import { decodePushRequest, loadPushRequestType } from './test-support/pyroscope-receiver.js';

function sample(fn: string, labels: Record<string, string>, cpuNs: number): ProfileSample {
  return {
    frames: [{ address: 0x1000n, functionName: fn, kind: 'native' }],
    values: [1, cpuNs],
    numLabels: { pid: 42, tid: 42 },
    strLabels: { comm: labels.process ?? 'x', ...labels },
  };
}

function window(samples: ProfileSample[]): ProfileData {
  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_101_010,
    timeNanos: 1_700_000_000_000_000_000n,
    durationNanos: 10_000_000_000n,
    samples,
  };
}

describe('encodePushRequest', () => {
  const type = loadPushRequestType();

  it('writes series, labels and gzipped pprof samples that protobufjs and pprof-format read back', async () => {
    const series = splitSeries(
      window([
        sample('nginx_hot', { process: 'nginx', container_id: 'abc123', pod_uid: 'u-1' }, 3e9),
        sample('nginx_cold', { process: 'nginx', container_id: 'abc123', pod_uid: 'u-1' }, 1e9),
        sample('pg_hot', { process: 'postgres' }, 2e9),
      ]),
      { profileName: 'process_cpu', extraLabels: { env: 'prod', 'cluster': 'eu-1' } },
    );
    const body = encodePushRequest(
      await Promise.all(series.map(async (s, i) => ({ labels: s.labels, samples: [{ rawProfile: await encodePprofGzip(s.data), id: `id-${i}` }] }))),
    );
    const got = decodePushRequest(type, body);
    expect(got.map((s) => s.labels)).toEqual([
      { __delta__: 'false', __name__: 'process_cpu', service_name: 'nginx', process: 'nginx', container: 'abc123', pod: 'u-1', env: 'prod', cluster: 'eu-1' },
      { __delta__: 'false', __name__: 'process_cpu', service_name: 'postgres', process: 'postgres', env: 'prod', cluster: 'eu-1' },
    ]);
    const nginx = got[0].profiles[0];
    const s = nginx.stringTable.strings;
    expect(nginx.sampleType.map((t) => `${s[Number(t.type)]}/${s[Number(t.unit)]}`)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(nginx.function.map((f) => s[Number(f.name)]).sort()).toEqual(['nginx_cold', 'nginx_hot']);
    expect(nginx.sample.map((x) => Number(x.value[1])).sort()).toEqual([1e9, 3e9]);
    expect(BigInt(nginx.timeNanos)).toBe(1_700_000_000_000_000_000n);
    // The IDs as sent.
    const raw = type.toObject(type.decode(body)) as { series: { samples: { ID: string }[] }[] };
    expect(raw.series.map((x) => x.samples[0].ID)).toEqual(['id-0', 'id-1']);
  });

  it('encodes large bodies (lengths past one varint byte) and empty requests', () => {
    const big = new Uint8Array(300_000).map((_, i) => i & 0xff);
    const body = encodePushRequest([{ labels: [['__name__', 'process_cpu'], ['service_name', 'é ü 名']], samples: [{ rawProfile: big, id: '' }] }]);
    const msg = type.toObject(type.decode(body), { defaults: true }) as { series: { labels: { value: string }[]; samples: { rawProfile: Uint8Array }[] }[] };
    expect(msg.series[0].labels[1].value).toBe('é ü 名');
    expect(Buffer.from(msg.series[0].samples[0].rawProfile).equals(Buffer.from(big))).toBe(true);
    expect(encodePushRequest([]).length).toBe(0);
  });
});

describe('splitSeries', () => {
  it('prefers Kubernetes labels when the samples have them', () => {
    expect(seriesLabelsOf(sample('f', { process: 'app', namespace: 'shop', workload: 'checkout', pod: 'checkout-7d9', container: 'api', container_id: 'c0ffee' }, 1))).toEqual({
      service_name: 'shop/checkout', process: 'app', pod: 'checkout-7d9', container: 'api',
    });
  });

  it('keeps the busiest series and merges the rest into "other", never dropping a sample', () => {
    const samples = Array.from({ length: 10 }, (_, i) => sample(`f${i}`, { process: `p${i}` }, (i + 1) * 1e6));
    const series = splitSeries(window(samples), { profileName: 'process_cpu', maxSeries: 4 });
    expect(series).toHaveLength(4);
    const names = series.map((s) => Object.fromEntries(s.labels).service_name);
    expect(names).toEqual(['p9', 'p8', 'p7', OTHER_SERVICE]);
    expect(series.reduce((a, s) => a + s.data.samples.length, 0)).toBe(10);
    expect(series[3].weight).toBe((1 + 2 + 3 + 4 + 5 + 6 + 7) * 1e6);
    expect(splitSeries(window([]), { profileName: 'process_cpu' })).toEqual([]);
  });

  it('extra labels override ours but never __name__', () => {
    const [s] = splitSeries(window([sample('f', { process: 'app' }, 1)]), {
      profileName: 'off_cpu', extraLabels: { service_name: 'fleet', __name__: 'x' },
    });
    expect(Object.fromEntries(s.labels)).toMatchObject({ __name__: 'off_cpu', service_name: 'fleet', process: 'app' });
  });
});
