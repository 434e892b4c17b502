// Go's /debug/pprof/ index page (the UI at / is ui-page.ts).

export function pprofIndexPage(): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>/debug/pprof/</title></head><body>
<p>/debug/pprof/</p>
<p>Profiles:</p>
<table>
<tr><td><a href="profile?seconds=30">profile</a></td><td>CPU profile of the next <code>seconds</code> (default 30); <code>from</code>&amp;<code>to</code> read retained history; <code>pid</code> filters</td></tr>
<tr><td><a href="offcpu?seconds=30">offcpu</a></td><td>Off-CPU time profile, same parameters</td></tr>
<tr><td><a href="io?seconds=30">io</a></td><td>Block I/O time (issue to completion) by the stack that submitted each request, same parameters</td></tr>
<tr><td><a href="wall?seconds=30">wall</a></td><td>Wall-clock time per thread (on and off CPU, <code>state</code> label), same parameters</td></tr>
<tr><td><a href="cmdline">cmdline</a></td><td>The agent's command line</td></tr>
<tr><td><a href="symbol">symbol</a></td><td>Names of addresses in the profiles served (POST <code>0xADDR+0xADDR...</code>), for pprof</td></tr>
</table>
<p>Use: <code>go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=30</code></p>
</body></html>
`;
}
