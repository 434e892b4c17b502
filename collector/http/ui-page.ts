// The page at / (issue 13): static HTML and CSS, one script written for it (ui-client.ts), no framework and
// no request outside the agent. What the agent runs is embedded as JSON; the data comes from /api/timeline,
// /api/top, /api/heatmap and the /flamegraph pages (in iframes).
import { escapeMarkup } from '../../flamegraph/index.js';
import type { ProgramStatus } from '../agent/agent.js';
import { UI_CLIENT_SCRIPT } from './ui-client.js';

export interface UiPageOptions {
  statuses: readonly ProgramStatus[];
  profiles: readonly ('cpu' | 'offcpu')[];
  latency: readonly string[];
  retentionSeconds: number;
  windowSeconds: number;
  /** The timeline the page opens on (its /api/timeline query and answer), when the server has it at hand. */
  timeline?: { query: string; data: object };
}

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1b;--muted:#666;--line:#d8d8d8;--panel:#f6f6f4;--accent:#1a55b0;--sel:rgba(26,85,176,.18);--base:rgba(120,120,120,.22);--grew:#c62828;--shrank:#1565c0}
@media (prefers-color-scheme:dark){:root{--bg:#17181a;--fg:#e4e4e4;--muted:#9a9a9a;--line:#3a3b3e;--panel:#202225;--accent:#7fb0ff;--sel:rgba(127,176,255,.22);--base:rgba(200,200,200,.18);--grew:#ff6b6b;--shrank:#6fa8ff}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;padding:8px 14px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:17px;margin:0 8px 0 0}
button,select,input{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:2px 8px}
button{cursor:pointer}button:hover{border-color:var(--accent)}
button:focus-visible,input:focus-visible,select:focus-visible,[tabindex]:focus-visible{outline:2px solid var(--accent);outline-offset:1px}
[role=tab][aria-selected=true]{background:var(--accent);color:var(--bg);border-color:var(--accent)}
.filters{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.filters label{display:flex;gap:4px;align-items:center;color:var(--muted)}
.filters input{width:8em}
main{padding:8px 14px}
#timeline-wrap{position:relative}
#timeline{display:block;width:100%;height:150px;user-select:none;cursor:crosshair;border:1px solid var(--line);border-radius:4px}
#legend{display:flex;flex-wrap:wrap;gap:4px 12px;margin:4px 0;font-size:12px}
#legend button{border:none;padding:0 2px;display:flex;gap:4px;align-items:center;background:none}
#legend i{display:inline-block;width:10px;height:10px;border-radius:2px}
#status{color:var(--muted);font-size:12px;min-height:1.4em}
.bar{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center;margin:6px 0}
#panes{display:grid;grid-template-columns:minmax(0,1fr) minmax(300px,34%);gap:12px;align-items:start}
#graphs iframe{display:block;width:100%;border:1px solid var(--line);border-radius:4px;height:420px;background:var(--bg)}
#graphs iframe+iframe{margin-top:6px}
#top{border:1px solid var(--line);border-radius:4px;max-height:70vh;overflow:auto}
#top table{border-collapse:collapse;width:100%;font-size:12px}
#top th{position:sticky;top:0;background:var(--panel);text-align:right;padding:0}
#top th button{border:none;background:none;width:100%;text-align:inherit;padding:4px 6px;font-weight:600}
#top th:first-child{text-align:left}
#top td{padding:2px 6px;text-align:right;white-space:nowrap;border-top:1px solid var(--line)}
#top td:first-child{text-align:left;max-width:0;width:60%;overflow:hidden;text-overflow:ellipsis}
#top tbody tr{cursor:pointer}#top tbody tr:hover,#top tbody tr:focus{background:var(--sel);outline:none}
#top tr.focused{background:var(--sel);font-weight:600}
#top tr.grew td:first-child,#top tr.grew td.d{color:var(--grew)}
#top tr.shrank td:first-child,#top tr.shrank td.d{color:var(--shrank)}
#search{width:16em}
h2{font-size:15px;margin:16px 0 4px}
.heat{position:relative}
.heat svg{display:block;width:100%;height:200px;border:1px solid var(--line);border-radius:4px}
#tip{position:fixed;pointer-events:none;background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:3px 6px;font-size:12px;display:none;z-index:2;white-space:pre}
footer{padding:8px 14px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);margin-top:16px}
footer a{color:var(--accent)}
a{color:var(--accent)}
.hidden{display:none!important}
`;

export function uiPage(opts: UiPageOptions): string {
  const config = JSON.stringify({
    profiles: opts.profiles,
    latency: opts.latency,
    retentionSeconds: opts.retentionSeconds,
    windowSeconds: opts.windowSeconds,
    timeline: opts.timeline ?? null,
  }).replace(/</g, '\\u003c');
  const programs = opts.statuses
    .map((s) => `${escapeMarkup(s.program)}: ${s.attached ? 'attached' : `<b>not attached</b> (${escapeMarkup(s.error ?? '')})`}`)
    .join(' · ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hotpath</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>hotpath</h1>
<div role="tablist" aria-label="profile" id="tabs"></div>
<label>stack by <select id="by"><option value="comm">process (comm)</option><option value="process">executable</option><option value="pid">pid</option><option value="tid">thread</option><option value="container">container</option><option value="pod">pod</option></select></label>
<div class="filters" id="filters">
<label>process <input id="f-comm" name="comm" placeholder="comm" autocomplete="off"></label>
<label>pid <input id="f-pid" name="pid" inputmode="numeric" autocomplete="off"></label>
<label>thread <input id="f-tid" name="tid" inputmode="numeric" autocomplete="off"></label>
<label>container <input id="f-container" name="container" autocomplete="off"></label>
<label>pod <input id="f-pod" name="pod" autocomplete="off"></label>
<button id="clear-filters" type="button">Clear filters</button>
</div>
</header>
<main>
<div id="timeline-wrap"><svg id="timeline" tabindex="0" role="img" aria-label="timeline of retained windows: drag to select a range; arrow keys move it, shift+arrows resize it, Escape selects everything"></svg></div>
<div id="legend"></div>
<div class="bar">
<span id="range"></span>
<button id="all" type="button" title="Escape">Whole history</button>
<button id="last5" type="button">Last 5 min</button>
<button id="cmp-prev" type="button">Compare with the period before</button>
<button id="cmp-pin" type="button">Pin as base</button>
<button id="cmp-off" type="button" class="hidden">Stop comparing</button>
<a id="download" href="#" download>Download pprof</a>
<span id="status" role="status"></span>
</div>
<div id="panes">
<section id="graphs" aria-label="flamegraph"><div class="bar" id="focus-bar"></div><iframe id="fg" title="flamegraph of the selection"></iframe><iframe id="fg2" class="hidden" title="callees of the focused function"></iframe></section>
<section aria-label="top functions"><div class="bar"><label>Search <input id="search" type="search" placeholder="function" autocomplete="off" spellcheck="false"></label><span id="top-note"></span></div><div id="top"></div></section>
</div>
<section id="heatmaps"></section>
</main>
<div id="tip"></div>
<footer>Programs: ${programs} · <a href="/debug/pprof/">/debug/pprof/</a> · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer>
<script id="config" type="application/json">${config}</script>
<script>
${UI_CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
