// The agent's HTML pages: the index at / and Go's /debug/pprof/ index.
import { escapeMarkup } from '../../flamegraph/index.js';
import type { ProgramStatus } from '../agent/agent.js';

export function indexPage(statuses: readonly ProgramStatus[]): string {
  const programs = statuses
    .map((s) => `<li>${escapeMarkup(s.program)}: ${s.attached ? 'attached' : `<b>not attached</b>: ${escapeMarkup(s.error ?? '')}`}</li>`)
    .join('');
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>hotpath</title></head><body>
<h1>hotpath</h1>
<p>Continuous CPU and latency profiler.</p>
<ul>
<li><a href="/flamegraph?type=cpu&amp;seconds=10">CPU flamegraph of the next 10 s</a></li>
<li><a href="/flamegraph?type=offcpu&amp;seconds=10">Off-CPU flamegraph of the next 10 s</a></li>
<li><a href="/debug/pprof/">/debug/pprof/</a> — profiles for <code>go tool pprof</code></li>
<li><a href="/metrics">/metrics</a> — Prometheus metrics</li>
<li><a href="/healthz">/healthz</a></li>
</ul>
<h2>Programs</h2><ul>${programs}</ul>
</body></html>
`;
}

export function pprofIndexPage(): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>/debug/pprof/</title></head><body>
<p>/debug/pprof/</p>
<p>Profiles:</p>
<table>
<tr><td><a href="profile?seconds=30">profile</a></td><td>CPU profile of the next <code>seconds</code> (default 30); <code>from</code>&amp;<code>to</code> read retained history; <code>pid</code> filters</td></tr>
<tr><td><a href="offcpu?seconds=30">offcpu</a></td><td>Off-CPU time profile, same parameters</td></tr>
<tr><td><a href="cmdline">cmdline</a></td><td>The agent's command line</td></tr>
<tr><td><a href="symbol">symbol</a></td><td>Names of addresses in the profiles served (POST <code>0xADDR+0xADDR...</code>), for pprof</td></tr>
</table>
<p>Use: <code>go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=30</code></p>
</body></html>
`;
}
