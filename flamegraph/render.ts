import { CLIENT_SCRIPT } from './client-script.js';
import { diffColor, frameColor } from './colors.js';
import { escapeMarkup } from './escape-markup.js';
import { StackTree } from './tree.js';
import type { FoldedStack } from './types.js';
import { formatPercent, formatValue } from './units.js';

export interface RenderOptions {
  title?: string;
  /** Default: sample type and total, e.g. `cpu · total 1.5 s`. */
  subtitle?: string;
  /** Picture width in px (default 1200). */
  width?: number;
  /** Row height in px (default 16). */
  frameHeight?: number;
  /** Frame label size in px (default 12). */
  fontSize?: number;
  /** Frames narrower than this (px, at full view) are left out; their value still counts in their parents. */
  minWidthPx?: number;
  /** Icicle: root at the top (default false: flame, root at the bottom). */
  inverted?: boolean;
  /** pprof unit of the values (`nanoseconds`, `count`, `bytes`...): shapes tooltips. Default `count`. */
  unit?: string;
  /** Sample type name for the default subtitle (`cpu`, `offcpu`, `samples`). */
  sampleType?: string;
  /** Name of the root frame (default `all`). */
  rootName?: string;
  /** Differential mode: widths from `stacks`, colours by how each frame's share changed since this base. */
  diffBase?: FoldedStack[];
}

const PAD = 10;
const TOP = 72;
const FOOTER = 30;
const SEARCH_NOTE = 'rgb(230,0,230)';

const fx = (n: number) => n.toFixed(2);

/** Same rule as the browser script: monospace characters that fit, `..` when cut. */
function label(name: string, w: number, charWidth: number): string {
  const n = Math.floor((w - 6) / charWidth);
  if (n < 3) return '';
  return name.length <= n ? name : `${name.slice(0, n - 2)}..`;
}

interface Placed {
  node: number;
  depth: number;
  offset: number;
  /** The same frame in the diff base tree, or -1. */
  base: number;
  delta: number;
}

interface Layout {
  svg: string;
  title: string;
}

function layoutSvg(stacks: FoldedStack[], opts: RenderOptions, standalone: boolean): Layout {
  const width = opts.width ?? 1200;
  const fh = opts.frameHeight ?? 16;
  const fontSize = opts.fontSize ?? 12;
  const charWidth = Math.round(fontSize * 60) / 100; // monospace advance ≈ 0.6 em, kept short in the markup
  const minWidthPx = opts.minWidthPx ?? 0.1;
  const unit = opts.unit ?? 'count';
  const graphWidth = width - 2 * PAD;
  const diff = opts.diffBase !== undefined;
  const tree = new StackTree(stacks, { rootName: opts.rootName });
  const baseTree = diff ? new StackTree(opts.diffBase!, { rootName: opts.rootName }) : undefined;
  const total = tree.value[0];
  const baseTotal = baseTree?.value[0] ?? 0;
  const title = opts.title ?? (diff ? 'Differential Flame Graph' : opts.inverted ? 'Icicle Graph' : 'Flame Graph');
  const subtitle = opts.subtitle ?? (diff
    ? `${opts.sampleType ?? 'samples'} · current ${formatValue(total, unit)} · base ${formatValue(baseTotal, unit)} · red grew, blue shrank`
    : `${opts.sampleType ?? 'samples'} · total ${formatValue(total, unit)}`);

  // Pass 1: place frames in value units, depth first, pruning narrow subtrees.
  const placed: Placed[] = [];
  let maxAbsDelta = 0;
  let rows = 0;
  const share = (v: number, t: number) => (t > 0 ? v / t : 0);
  if (total > 0) {
    const todo: Placed[] = [{ node: 0, depth: 0, offset: 0, base: baseTree ? 0 : -1, delta: 0 }];
    while (todo.length > 0) {
      const p = todo.pop()!;
      if (diff) {
        p.delta = share(tree.value[p.node], total) - share(p.base >= 0 ? baseTree!.value[p.base] : 0, baseTotal);
        maxAbsDelta = Math.max(maxAbsDelta, Math.abs(p.delta));
      }
      placed.push(p);
      rows = Math.max(rows, p.depth + 1);
      // Children sit left-aligned in name order (self time is the gap on the right); pushed in reverse so
      // they are emitted in name order.
      const kids = tree.children(p.node);
      const offsets = new Array<number>(kids.length);
      let offset = p.offset;
      for (let i = 0; i < kids.length; i++) {
        offsets[i] = offset;
        offset += tree.value[kids[i]];
      }
      for (let i = kids.length - 1; i >= 0; i--) {
        const c = kids[i];
        if ((tree.value[c] / total) * graphWidth < minWidthPx) continue;
        let base = -1;
        if (p.base >= 0) {
          const id = baseTree!.nameOf(tree.name(c), tree.kind(c), false);
          base = id < 0 ? -1 : baseTree!.child(p.base, id);
        }
        todo.push({ node: c, depth: p.depth + 1, offset: offsets[i], base, delta: 0 });
      }
    }
  }
  rows = Math.max(rows, 1);
  const height = TOP + rows * fh + FOOTER;

  // Pass 2: emit.
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" id="flamegraph" width="${width}" height="${height}"`
    + ` viewBox="0 0 ${width} ${height}" data-graph-width="${graphWidth}" data-pad="${PAD}" data-top="${TOP}"`
    + ` data-frame-height="${fh}" data-rows="${rows}" data-total="${total}" data-char-width="${charWidth}"`
    + ` data-unit="${escapeMarkup(unit)}" data-inverted="${opts.inverted ? '1' : '0'}"${diff ? ' data-diff="1"' : ''}>\n`);
  if (standalone) out.push(`<style>${svgStyle(fontSize)}</style>\n`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="${diff ? '#fafafa' : '#fdf8ef'}"/>\n`);
  out.push(`<text class="title" x="${width / 2}" y="24" text-anchor="middle">${escapeMarkup(title)}</text>\n`);
  out.push(`<text class="subtitle" x="${width / 2}" y="44" text-anchor="middle">${escapeMarkup(subtitle)}</text>\n`);
  if (standalone) {
    out.push(`<text id="reset" class="control" x="${PAD}" y="62" style="opacity:0.5">Reset zoom</text>\n`);
    out.push(`<text id="invert" class="control" x="${PAD + 100}" y="62">Invert</text>\n`);
    out.push(`<text id="search" class="control" x="${width - PAD}" y="62" text-anchor="end">Search</text>\n`);
  }
  if (total <= 0) out.push(`<text class="subtitle" x="${width / 2}" y="${TOP + 12}" text-anchor="middle">No samples</text>\n`);
  out.push('<g id="frames">\n');
  const fv = (v: number) => formatValue(v, unit);
  for (const p of placed) {
    const { depth, offset } = p;
    const node = { name: tree.name(p.node), kind: tree.kind(p.node), value: tree.value[p.node] };
    const x = PAD + (offset / total) * graphWidth;
    const w = (node.value / total) * graphWidth;
    const y = opts.inverted ? TOP + depth * fh : TOP + (rows - 1 - depth) * fh;
    let tip: string;
    let fill: string;
    if (diff) {
      const bv = p.base >= 0 ? baseTree!.value[p.base] : 0;
      const d = node.value - bv;
      const pts = 100 * p.delta;
      tip = `${node.name} (current ${fv(node.value)}, ${formatPercent(node.value, total)}; base ${fv(bv)}, `
        + `${formatPercent(bv, baseTotal)}; delta ${d >= 0 ? '+' : '-'}${fv(Math.abs(d))}, `
        + `${pts >= 0 ? '+' : '-'}${Math.abs(pts).toFixed(2)} pts)`;
      fill = diffColor(p.delta, maxAbsDelta > 0 ? Math.abs(p.delta) / maxAbsDelta : 0);
    } else {
      tip = `${node.name} (${fv(node.value)}, ${formatPercent(node.value, total)})`;
      fill = frameColor(node.name, node.kind);
    }
    const name = escapeMarkup(node.name);
    out.push(`<g class="frame" data-name="${name}" data-kind="${node.kind}" data-o="${offset}" data-v="${node.value}"`
      + ` data-d="${depth}"><title>${escapeMarkup(tip)}</title><rect x="${fx(x)}" y="${y}" width="${fx(w > 1 ? w - 0.5 : w)}"`
      + ` height="${fh - 1}" rx="2" fill="${fill}"/><text x="${fx(x + 3)}" y="${y + fh - 4.5}">`
      + `${escapeMarkup(label(node.name, w, charWidth))}</text></g>\n`);
  }
  out.push('</g>\n');
  if (standalone) {
    out.push(`<text id="details" x="${PAD}" y="${height - 10}"> </text>\n`);
    out.push(`<text id="matched" x="${width - PAD}" y="${height - 10}" text-anchor="end"></text>\n`);
    out.push(`<script type="text/ecmascript"><![CDATA[\n${CLIENT_SCRIPT}]]></script>\n`);
  }
  out.push('</svg>\n');
  return { svg: out.join(''), title };
}

function svgStyle(fontSize: number): string {
  const mono = `ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace`;
  return `text{font-family:${mono};font-size:${fontSize}px;fill:#000}`
    + `.title{font-size:17px;font-weight:bold}.subtitle{fill:#555}`
    + `.frame{cursor:pointer}.frame text{pointer-events:none}.frame:hover rect{stroke:#000;stroke-width:0.5}`
    + `.control{cursor:pointer;fill:#1a55b0;text-decoration:underline}#matched{fill:${SEARCH_NOTE}}`;
}

/** renderSvg draws an interactive, self-contained SVG flame graph (open the file directly in a browser). */
export function renderSvg(stacks: FoldedStack[], opts: RenderOptions = {}): string {
  const { svg } = layoutSvg(stacks, opts, true);
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n${svg}`;
}

/** renderHtml draws the same graph in a self-contained HTML page with a search box and an invert toggle. */
export function renderHtml(stacks: FoldedStack[], opts: RenderOptions = {}): string {
  const { svg, title } = layoutSvg(stacks, opts, false);
  const fontSize = opts.fontSize ?? 12;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeMarkup(title)}</title>
<style>
body{margin:8px;font-family:system-ui,sans-serif;font-size:14px;background:#fff}
#toolbar{display:flex;gap:10px;align-items:center;margin-bottom:6px}
#toolbar input{font-family:monospace;width:24em}
#matched{color:${SEARCH_NOTE};font-family:monospace}
#details{font-family:monospace;min-height:1.3em;white-space:pre;overflow:hidden}
${svgStyle(fontSize)}
</style>
</head>
<body>
<div id="toolbar"><button id="reset" type="button" style="opacity:0.5">Reset zoom</button><button id="invert" type="button">Invert</button><label>Search <input id="search" type="search" placeholder="regular expression" autocomplete="off" spellcheck="false"></label><span id="matched"></span></div>
${svg}<div id="details"> </div>
<script>
${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}

/** renderDiff: differential SVG, widths from `current`, red where a frame's share grew, blue where it shrank. */
export function renderDiff(base: FoldedStack[], current: FoldedStack[], opts: RenderOptions = {}): string {
  return renderSvg(current, { ...opts, diffBase: base });
}

/** renderDiffHtml: renderDiff as an HTML page. */
export function renderDiffHtml(base: FoldedStack[], current: FoldedStack[], opts: RenderOptions = {}): string {
  return renderHtml(current, { ...opts, diffBase: base });
}
