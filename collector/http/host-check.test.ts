import { describe, expect, it } from 'vitest';
import { hostHeaderAllowed, isLoopbackAddress, loopbackHostNames } from './host-check.js';

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['LOCALHOST', true], ['::1', true], ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['192.168.1.1', false], ['example.com', false],
    ['localhost.example', false], ['128.0.0.1', false], ['', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackAddress(host)).toBe(loopback);
  });
});

describe('hostHeaderAllowed', () => {
  const names = loopbackHostNames('127.0.0.1');
  it.each([
    ['127.0.0.1:9464', true],
    ['localhost:9464', true],
    ['LocalHost:9464', true],
    ['[::1]:9464', true],
    ['127.0.0.1:9465', false], // another port: another service's name
    ['127.0.0.1', false], // port 80 implied
    ['evil.example:9464', false], // DNS rebinding
    ['evil.example', false],
    ['127.0.0.1.evil.example:9464', false],
    ['localhost.:9464', false],
    ['127.0.0.2:9464', false],
    ['[::1]', false],
    ['127.0.0.1:9464:1', false],
    ['', false],
    [undefined, false],
  ])('Host %s → %s', (header, allowed) => {
    expect(hostHeaderAllowed(header, names, 9464, false)).toBe(allowed);
  });

  it('accepts a bare name on the scheme default port', () => {
    expect(hostHeaderAllowed('localhost', names, 80, false)).toBe(true);
    expect(hostHeaderAllowed('localhost', names, 443, true)).toBe(true);
    expect(hostHeaderAllowed('localhost', names, 443, false)).toBe(false);
  });

  it('accepts the loopback address it is bound to', () => {
    expect(hostHeaderAllowed('127.0.0.2:9464', loopbackHostNames('127.0.0.2'), 9464, false)).toBe(true);
    expect(hostHeaderAllowed('[::1]:9464', loopbackHostNames('::1'), 9464, false)).toBe(true);
  });
});
