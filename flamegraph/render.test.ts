// Golden files: testdata/<case>/ holds the input and the expected SVG and HTML, compared byte for byte.
// UPDATE_GOLDEN=1 rewrites the expected files on purpose; review the diff before committing it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  collapsePprofDetailed, formatFolded, parseFolded, renderDiff, renderDiffHtml, renderHtml, renderSvg,
  type FoldedStack, type RenderOptions,
} from './index.js';
import { decodedTestProfile } from './test-support/test-profile.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';
const read = (c: string, f: string) => readFileSync(join(testdata, c, f), 'utf8');

function golden(c: string, file: string, actual: string): void {
  const path = join(testdata, c, file);
  if (update || !existsSync(path)) {
    // A missing golden is written but still fails, so a forgotten file cannot pass silently.
    writeFileSync(path, actual);
    if (!update) throw new Error(`golden ${path} was missing; written, review it and rerun`);
    return;
  }
  const expected = readFileSync(path, 'utf8');
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  expect.fail(`${c}/${file} differs from golden at offset ${i} (UPDATE_GOLDEN=1 rewrites):\n`
    + `  expected: ${JSON.stringify(expected.slice(Math.max(0, i - 40), i + 40))}\n`
    + `  actual:   ${JSON.stringify(actual.slice(Math.max(0, i - 40), i + 40))}`);
}

interface Case {
  name: string;
  stacks: () => FoldedStack[];
  base?: () => FoldedStack[];
  opts: RenderOptions;
}

const cases: Case[] = [
  { name: 'simple', stacks: () => parseFolded(read('simple', 'input.folded')), opts: { title: 'simple' } },
  { name: 'deep-recursion', stacks: () => parseFolded(read('deep-recursion', 'input.folded')), opts: { title: 'deep recursion' } },
  { name: 'special-chars', stacks: () => parseFolded(read('special-chars', 'input.folded')), opts: { title: 'A <b> & "c" \'d\'' } },
  { name: 'inverted', stacks: () => parseFolded(read('inverted', 'input.folded')), opts: { inverted: true } },
  {
    name: 'diff', stacks: () => parseFolded(read('diff', 'current.folded')), base: () => parseFolded(read('diff', 'base.folded')),
    opts: { title: 'diff' },
  },
  { name: 'pruning', stacks: () => parseFolded(read('pruning', 'input.folded')), opts: { title: 'pruning', minWidthPx: 0.5 } },
  {
    name: 'pprof', stacks: () => collapsePprofDetailed(decodedTestProfile(), { processRoot: true }).stacks,
    opts: { title: 'pprof', unit: 'nanoseconds', sampleType: 'cpu' },
  },
];

function render(c: Case, stacks = c.stacks()): { svg: string; html: string } {
  if (c.base) return { svg: renderDiff(c.base(), stacks, c.opts), html: renderDiffHtml(c.base(), stacks, c.opts) };
  return { svg: renderSvg(stacks, c.opts), html: renderHtml(stacks, c.opts) };
}

const frameNames = (svg: string) =>
  [...svg.matchAll(/<g class="frame" data-name="([^"]*)"/g)].map((m) => m[1]);
const unescape = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const frameTag = (svg: string, name: string) => {
  const i = svg.indexOf(`<g class="frame" data-name="${name}"`);
  expect(i, `frame ${name}`).toBeGreaterThanOrEqual(0);
  return svg.slice(i, svg.indexOf('</g>', i));
};

describe('golden files', () => {
  for (const c of cases) {
    test(c.name, () => {
      const { svg, html } = render(c);
      golden(c.name, 'expected.svg', svg);
      golden(c.name, 'expected.html', html);
      // Deterministic whatever the input order.
      expect(render(c, [...c.stacks()].reverse()).svg).toBe(svg);
    });
  }
  test('pprof case: collapsed stacks', () => {
    golden('pprof', 'collapsed.folded', formatFolded(cases[6].stacks()));
  });
});

describe('rendering', () => {
  test('every tree node is a frame with its name, offset, value and depth; tooltips show value and %', () => {
    const svg = renderSvg(parseFolded(read('simple', 'input.folded')));
    expect(frameNames(svg)).toEqual(['all', 'main', 'cleanup', 'parse_config', 'read_file', 'run', 'compute_hash',
      'sha256_block', 'sort_records', 'write_output', 'write', 'entry_SYSCALL_64', 'ksys_write']);
    const run = frameTag(svg, 'run');
    expect(run).toContain('data-o="20" data-v="260" data-d="2"');
    expect(run).toContain('<title>run (260 samples, 92.86%)</title>');
    expect(frameTag(svg, 'ksys_write')).toContain('data-kind="kernel"');
    // Flame: root on the bottom row; icicle: root on the top row (y = 72).
    expect(frameTag(svg, 'all')).toContain('y="168"'); // 7 rows: 72 + 6 * 16
    expect(frameTag(renderSvg(parseFolded(read('simple', 'input.folded')), { inverted: true }), 'all')).toContain('y="72"');
  });

  test('time units: nanoseconds read as ms and s', () => {
    const svg = renderSvg(collapsePprofDetailed(decodedTestProfile()).stacks, { unit: 'nanoseconds', sampleType: 'cpu' });
    expect(frameTag(svg, 'compute')).toContain('<title>compute (40 ms, 30.77%)</title>');
    expect(svg).toContain('cpu · total 130 ms');
  });

  test('special characters are escaped everywhere and names survive in data-name', () => {
    const stacks = parseFolded(read('special-chars', 'input.folded'));
    const svg = renderSvg(stacks, { title: '<t>' });
    const expected = new Set(stacks.flatMap((s) => s.frames.map((f) => f.name.replace(/\u0001/g, '\uFFFD'))));
    const got = frameNames(svg).map(unescape);
    for (const n of expected) expect(got).toContain(n);
    expect(svg).not.toContain('\u0001');
    expect(svg).not.toContain('<script><');
    expect(svg).toContain('<text class="title" x="600" y="24" text-anchor="middle">&lt;t&gt;</text>');
    // Long names are cut with "..".
    expect(svg).toMatch(/>very_long_function_[a-z_]*\.\.<\/text>/);
    // The HTML page loads no external resource.
    const html = renderHtml(stacks);
    expect(html).not.toMatch(/\b(?:src|href)=/);
  });

  test('pruning leaves out narrow frames but their value stays in the parent', () => {
    const stacks = parseFolded(read('pruning', 'input.folded'));
    const pruned = renderSvg(stacks, { minWidthPx: 0.5 });
    expect(frameNames(pruned).filter((n) => n.startsWith('tiny_'))).toEqual([]);
    expect(frameTag(pruned, 'small_caller')).toContain('data-v="900"');
    expect(frameNames(renderSvg(stacks)).filter((n) => n.startsWith('tiny_'))).toEqual([]); // 0.03 px < default 0.1
    expect(frameNames(renderSvg(stacks, { minWidthPx: 0 })).filter((n) => n.startsWith('tiny_'))).toHaveLength(300);
  });

  test('diff: red where the share grew, blue where it shrank, white when equal; both values in tooltips', () => {
    const svg = renderDiff(parseFolded(read('diff', 'base.folded')), parseFolded(read('diff', 'current.folded')));
    const fill = (n: string) => /fill="([^"]+)"/.exec(frameTag(svg, n))![1];
    // parse_json 40% → 53.3%: grew. render_template 20% → 3.3%: shrank. all: 100% → 100%.
    expect(fill('parse_json')).toMatch(/^rgb\(255,(\d+),\1\)$/);
    expect(fill('render_template')).toMatch(/^rgb\((\d+),\1,255\)$/);
    expect(fill('all')).toBe('rgb(255,255,255)');
    expect(fill('new_feature')).toMatch(/^rgb\(255,/);
    // The biggest change gets the strongest colour.
    const g = (n: string) => Number(/rgb\(\d+,(\d+)/.exec(fill(n))![1]);
    expect(g('render_template')).toBe(55);
    expect(frameTag(svg, 'parse_json')).toContain(
      '<title>parse_json (current 80 samples, 53.33%; base 40 samples, 40.00%; delta +40 samples, +13.33 pts)</title>');
  });

  test('empty input renders a valid page saying so', () => {
    const svg = renderSvg([]);
    expect(svg).toContain('No samples');
    expect(frameNames(svg)).toEqual([]);
  });

  // Two shapes: "realistic" (500 call paths shared by many stacks, varied leaves) and "worst" (nearly every
  // stack distinct below its first frames: 1.7 million tree nodes).
  test('100k stacks render in well under a few seconds', () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const names = Array.from({ length: 3000 }, (_, i) => `module_${i % 37}::function_${i}`);
    const pick = () => ({ name: names[Math.floor(rnd() * names.length)], kind: 'native' as const });
    const paths = Array.from({ length: 500 }, () => Array.from({ length: 10 + Math.floor(rnd() * 15) }, pick));
    const realistic: FoldedStack[] = [];
    const worst: FoldedStack[] = [];
    for (let i = 0; i < 100_000; i++) {
      const path = paths[Math.floor(rnd() ** 2 * paths.length)];
      realistic.push({ frames: [...path, ...Array.from({ length: Math.floor(rnd() * 5) }, pick)], value: 1 + Math.floor(rnd() * 50) });
      const depth = 5 + Math.floor(rnd() * 30);
      const frames = [];
      for (let d = 0; d < depth; d++) frames.push({ name: names[Math.floor(rnd() ** (4 / (1 + d / 4)) * names.length)], kind: 'native' as const });
      worst.push({ frames, value: 1 + Math.floor(rnd() * 50) });
    }
    for (const [name, stacks, limit] of [['realistic', realistic, 1500], ['worst', worst, 3000]] as const) {
      const t0 = performance.now();
      const html = renderHtml(stacks);
      const ms = performance.now() - t0;
      console.log(`100k stacks (${name}): ${ms.toFixed(0)} ms, ${(html.length / 1e6).toFixed(2)} MB, ${frameNames(html).length} frames`);
      expect(ms).toBeLessThan(limit);
    }
  });
});
