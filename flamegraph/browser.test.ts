// The rendered pages in a real browser (Debian chromium via playwright-core): zoom, reset, search, tooltips,
// invert, and the standalone SVG opened directly as a file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseFolded, renderHtml, renderSvg } from './index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const dir = mkdtempSync(join(tmpdir(), 'hotpath-fg-browser-'));
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(file: string, content: string): Promise<{ page: Page; errors: string[] }> {
  const path = join(dir, file);
  writeFileSync(path, content);
  const page = await browser.newPage({ viewport: { width: 1240, height: 420 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(pathToFileURL(path).href);
  return { page, errors };
}

/** Geometry and state of a frame found by its data-name (names may hold any character, so no CSS selector). */
function frame(page: Page, name: string) {
  return page.evaluate((n) => {
    const g = [...document.querySelectorAll('g.frame')].find((e) => e.getAttribute('data-name') === n);
    if (!g) return null;
    const r = g.querySelector('rect')!;
    return {
      width: Number(r.getAttribute('width')), x: Number(r.getAttribute('x')), y: Number(r.getAttribute('y')),
      boxWidth: r.getBoundingClientRect().width, fill: r.getAttribute('fill'), hidden: g.getAttribute('display') === 'none',
      dimmed: g.getAttribute('opacity') === '0.5', label: g.querySelector('text')!.textContent,
      title: g.querySelector('title')!.textContent,
    };
  }, name);
}

const click = (page: Page, name: string) =>
  page.evaluate((n) => {
    const g = [...document.querySelectorAll('g.frame')].find((e) => e.getAttribute('data-name') === n)!;
    return g.querySelector('rect')!.getBoundingClientRect().toJSON() as { x: number; y: number; width: number; height: number };
  }, name).then((b) => page.mouse.click(b.x + b.width / 2, b.y + b.height / 2));

describe('HTML flamegraph in chromium', () => {
  const stacks = [
    ...parseFolded(readFileSync(join(testdata, 'simple', 'input.folded'), 'utf8')),
    ...parseFolded(readFileSync(join(testdata, 'inverted', 'input.folded'), 'utf8')),
  ];
  // Totals: simple 280 + node 140 = 420; compute_hash 160 (sha256_block 140 inside it).
  const graphWidth = 1180;

  test('zoom, reset, search, tooltip, invert', async () => {
    const { page, errors } = await open('graph.html', renderHtml(stacks, { title: 'hotpath browser test' }));
    const before = (await frame(page, 'compute_hash'))!;
    expect(before.width).toBeCloseTo((160 / 420) * graphWidth - 0.5, 1);

    // Zoom: the clicked frame fills the width, its children scale, ancestors dim, the rest disappears.
    await click(page, 'compute_hash');
    const zoomed = (await frame(page, 'compute_hash'))!;
    expect(zoomed.width).toBeGreaterThan(graphWidth - 2);
    expect(zoomed.boxWidth).toBeGreaterThan(graphWidth - 2);
    expect(zoomed.x).toBe(10);
    expect((await frame(page, 'sha256_block'))!.width).toBeCloseTo((140 / 160) * graphWidth - 0.5, 1);
    for (const a of ['run', 'main', 'all']) expect(await frame(page, a)).toMatchObject({ dimmed: true, hidden: false, x: 10 });
    for (const other of ['cleanup', 'sort_records', 'node']) expect((await frame(page, other))!.hidden).toBe(true);
    expect(zoomed.label).toBe('compute_hash');

    // Escape resets; the reset button does too.
    await page.keyboard.press('Escape');
    expect((await frame(page, 'compute_hash'))!.width).toBeCloseTo(before.width, 2);
    expect((await frame(page, 'cleanup'))!.hidden).toBe(false);
    await click(page, 'sha256_block');
    expect((await frame(page, 'compute_hash'))!.dimmed).toBe(true);
    await page.click('#reset');
    expect(await frame(page, 'compute_hash')).toMatchObject({ width: before.width, dimmed: false });

    // Search: highlight and the share matched; nested matches (run contains compute_hash) count once.
    await page.fill('#search', 'sha256|^write$');
    expect(await page.textContent('#matched')).toBe(`Matched: ${((100 * 175) / 420).toFixed(1)}%`);
    expect((await frame(page, 'sha256_block'))!.fill).toBe('rgb(230,0,230)');
    await page.fill('#search', '^run$|compute');
    expect(await page.textContent('#matched')).toBe(`Matched: ${((100 * 260) / 420).toFixed(1)}%`);
    await page.fill('#search', 'JS:\\*');
    expect(await page.textContent('#matched')).toBe(`Matched: ${((100 * 80) / 420).toFixed(1)}%`);
    await page.fill('#search', '([');
    expect(await page.textContent('#matched')).toBe('Invalid regular expression');
    await page.fill('#search', '');
    expect(await page.textContent('#matched')).toBe('');
    expect((await frame(page, 'sha256_block'))!.fill).not.toBe('rgb(230,0,230)');

    // Tooltip: <title> for the browser's own tooltip, and the details line on hover.
    const sha = (await frame(page, 'sha256_block'))!;
    expect(sha.title).toBe('sha256_block (140 samples, 33.33%)');
    const box = await page.evaluate(() => {
      const g = [...document.querySelectorAll('g.frame')].find((e) => e.getAttribute('data-name') === 'sha256_block')!;
      return g.querySelector('rect')!.getBoundingClientRect().toJSON() as { x: number; y: number; width: number; height: number };
    });
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    expect(await page.textContent('#details')).toBe('sha256_block (140 samples, 33.33%)');

    // Invert: root moves from the bottom row to the top row and back.
    const rootY = (await frame(page, 'all'))!.y;
    expect(rootY).toBeGreaterThan(72);
    await page.click('#invert');
    expect((await frame(page, 'all'))!.y).toBe(72);
    expect((await frame(page, 'main'))!.y).toBe(88);
    await page.screenshot({ path: '/tmp/flamegraph-inverted.png' });
    await page.click('#invert');
    expect((await frame(page, 'all'))!.y).toBe(rootY);

    await page.mouse.move(0, 0);
    await page.fill('#search', 'write');
    await page.screenshot({ path: '/tmp/flamegraph.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('diff page renders and zooms', async () => {
    const base = parseFolded(readFileSync(join(testdata, 'diff', 'base.folded'), 'utf8'));
    const current = parseFolded(readFileSync(join(testdata, 'diff', 'current.folded'), 'utf8'));
    const { renderDiffHtml } = await import('./index.js');
    const { page, errors } = await open('diff.html', renderDiffHtml(base, current));
    await click(page, 'handle_request');
    expect((await frame(page, 'handle_request'))!.width).toBeGreaterThan(graphWidth - 2);
    await page.screenshot({ path: '/tmp/flamegraph-diff.png' });
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('standalone SVG in chromium', () => {
  test('opens as a file, escapes every name, zooms and searches through the prompt', async () => {
    const stacks = parseFolded(readFileSync(join(testdata, 'special-chars', 'input.folded'), 'utf8'));
    const { page, errors } = await open('graph.svg', renderSvg(stacks));
    // An XML error would give a parsererror document instead of our SVG.
    expect(await page.evaluate(() => document.documentElement.tagName)).toBe('svg');
    const names = await page.evaluate(() => [...document.querySelectorAll('g.frame')].map((g) => g.getAttribute('data-name')));
    for (const n of ['operator<<(std::ostream&, Foo const&)', '"quoted" \'name\'', 'a && b || c', 'émoji 🔥 ünïcode',
      '</script><script>alert(1)</script>', 'ctrl\uFFFDchar']) {
      expect(names).toContain(n);
    }
    const name = 'std::vector<int, std::allocator<int> >::push_back';
    await click(page, name);
    expect((await frame(page, name))!.width).toBeGreaterThan(1178);
    await page.click('#reset');
    expect((await frame(page, name))!.width).toBeLessThan(1000);

    page.once('dialog', (d) => void d.accept('std::|very'));
    await page.click('#search');
    // 30 (std:: frames nest) + 15 of 105.
    expect(await page.textContent('#matched')).toBe(`Matched: ${((100 * 45) / 105).toFixed(1)}%`);
    await page.click('#invert');
    expect((await frame(page, 'all'))!.y).toBe(72);
    await page.screenshot({ path: '/tmp/flamegraph-svg.png' });
    expect(errors).toEqual([]);
    await page.close();
  });
});
