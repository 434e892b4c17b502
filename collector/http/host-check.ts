// Which addresses are loopback, and which Host headers a loopback-bound agent accepts. A web page the user
// visits can make the browser send requests to 127.0.0.1 under the page's own name (DNS rebinding): the
// browser then lets the page read the answers, profiles included. Such a request carries the attacker's name
// in its Host header, so a loopback agent answers only requests that name it as localhost, 127.0.0.1 or [::1]
// with its port. Pure: no I/O, unit-tested.
import { isIP } from 'node:net';

/** True for `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses (with or without brackets). */
export function isLoopbackAddress(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost') return true;
  if (h.startsWith('::ffff:') && isIP(h.slice(7)) === 4) h = h.slice(7);
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** The names a loopback-bound agent answers to: localhost, 127.0.0.1, [::1], and the address it is bound to. */
export function loopbackHostNames(boundHost: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const b = boundHost.trim().toLowerCase();
  if (isIP(b) === 4) names.add(b);
  else if (isIP(b) === 6) names.add(`[${b}]`);
  else if (b.startsWith('[') && isIP(b.slice(1, -1)) === 6) names.add(b);
  return names;
}

/**
 * Whether a Host header names this loopback agent: one of `names` followed by the agent's port, or without a
 * port when the agent listens on the scheme's default port (80, or 443 with TLS).
 */
export function hostHeaderAllowed(header: string | undefined, names: ReadonlySet<string>, port: number, tls: boolean): boolean {
  if (header === undefined) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  const headerPort = m[2] === undefined ? (tls ? 443 : 80) : Number(m[2]);
  return names.has(name) && headerPort === port;
}
