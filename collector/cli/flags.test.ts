import { describe, expect, it } from 'vitest';
import { HotpathError } from '../errors.js';
import { parseBytes, parseChoice, parseDuration, parseInteger, parsePids } from './flags.js';

describe('flag parsers', () => {
  it('parses durations in every unit, a bare number being seconds', () => {
    expect(parseDuration('--d', '10')).toBe(10);
    expect(parseDuration('--d', '1.5m')).toBe(90);
    expect(parseDuration('--d', '1h')).toBe(3600);
    expect(parseDuration('--d', '250ms')).toBeCloseTo(0.25);
    expect(parseDuration('--d', '1us')).toBeCloseTo(1e-6);
  });

  it.each(['', 'soon', '-1', '0', '1x', '1 h', 'NaN'])('refuses the duration %j with a usage error naming the flag', (v) => {
    expect(() => parseDuration('--window', v)).toThrow(/--window/);
    try {
      parseDuration('--window', v);
    } catch (err) {
      expect((err as HotpathError).code).toBe('HP_ERR_USAGE');
    }
  });

  it('parses bounded integers, pid lists, sizes and choices', () => {
    expect(parseInteger('--hz', '99', 1, 10_000)).toBe(99);
    expect(() => parseInteger('--hz', '0', 1, 10_000)).toThrow(/between 1 and 10000/);
    expect(() => parseInteger('--hz', '9.5', 1, 10_000)).toThrow(/whole number/);
    expect(parsePids('--pid', ['1,2', '2', '30'])).toEqual([1, 2, 30]);
    expect(() => parsePids('--pid', ['abc'])).toThrow(/--pid/);
    expect(parseBytes('--m', '256M')).toBe(256 * 1024 ** 2);
    expect(parseBytes('--m', '1GiB')).toBe(1024 ** 3);
    expect(() => parseBytes('--m', 'lots')).toThrow(/--m/);
    expect(parseChoice('--type', 'cpu', ['cpu', 'offcpu'])).toBe('cpu');
    expect(() => parseChoice('--type', 'gpu', ['cpu', 'offcpu'])).toThrow(/one of cpu, offcpu/);
  });
});

describe('--otlp-* and --kubernetes-* flags', async () => {
  const { otlpMetricsUrl, parseOtlpFlags } = await import('./otlp-flags.js');
  const { parseKubernetesFlags } = await import('./kubernetes-flags.js');

  it('adds /v1/metrics to an endpoint without a path and keeps a full URL', () => {
    expect(otlpMetricsUrl('http://collector:4318')).toBe('http://collector:4318/v1/metrics');
    expect(otlpMetricsUrl('https://otlp.example.com/otlp/v1/metrics')).toBe('https://otlp.example.com/otlp/v1/metrics');
    expect(() => otlpMetricsUrl('grpc://collector:4317')).toThrow(/http or https/);
    expect(() => otlpMetricsUrl('collector:4318/')).toThrow(/--otlp-endpoint/);
  });

  it('validates the interval and refuses a headers file without an endpoint', () => {
    expect(parseOtlpFlags({ 'otlp-interval': '30s' })).toBeUndefined();
    expect(parseOtlpFlags({ 'otlp-endpoint': 'http://c:4318', 'otlp-interval': '2s' })).toEqual({ url: 'http://c:4318/v1/metrics', intervalMs: 2000, headers: undefined });
    expect(() => parseOtlpFlags({ 'otlp-endpoint': 'http://c:4318', 'otlp-interval': '500ms' })).toThrow(/--otlp-interval/);
    expect(() => parseOtlpFlags({ 'otlp-interval': '30s', 'otlp-headers-file': '/etc/h' })).toThrow(/needs --otlp-endpoint/);
  });

  it('finds the API server and node from the pod\'s environment, and refuses what cannot work', () => {
    const env = { NODE_NAME: 'node-1', KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(parseKubernetesFlags({ kubernetes: true, 'kubernetes-source': 'api' }, env)).toMatchObject({
      kind: 'api', nodeName: 'node-1', baseUrl: 'https://10.96.0.1/',
    });
    expect(parseKubernetesFlags({ kubernetes: true, 'kubernetes-source': 'kubelet' }, env)).toMatchObject({ baseUrl: 'https://node-1:10250/' });
    expect(parseKubernetesFlags({ kubernetes: false, 'kubernetes-source': 'api' }, env)).toBeUndefined();
    expect(() => parseKubernetesFlags({ kubernetes: true, 'kubernetes-source': 'api' }, {})).toThrow(/node name/);
    expect(() => parseKubernetesFlags({ kubernetes: true, 'kubernetes-source': 'api' }, { NODE_NAME: 'n' })).toThrow(/KUBERNETES_SERVICE_HOST/);
    expect(() => parseKubernetesFlags({ kubernetes: true, 'kubernetes-source': 'api', 'kubernetes-node': 'Bad_Name' }, env)).toThrow(/not a node name/);
    expect(() => parseKubernetesFlags({ 'kubernetes-source': 'api', 'kubernetes-api': 'http://x' }, env)).toThrow(/needs --kubernetes/);
  });
});
