// The UI at / in a real browser (Debian chromium via playwright-core) on a live agent (issue 13): two workloads
// with known functions, one started a few windows after the other; the timeline's range selection, a process
// filter, the comparison, the heatmaps after fio, a pasted URL, and no request outside the agent.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkload, requireRoot, runTool, startAgent, startProcess, tempDir, waitFor, type RunningAgent } from '../test-support/kernel.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.HOTPATH_UI_SHOTS ?? '/work/ui-shots';

const workload = (fn: string) => `
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void ${fn}(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) ${fn}(); }
`;

describe('the UI at / in a real browser (kernel)', () => {
  let agent: RunningAgent;
  let alpha: ChildProcess;
  let beta: ChildProcess;
  let browser: Browser;
  let dir: string;
  /** Unix seconds: beta started after this. */
  let betaStart = 0;
  const requests: string[] = [];

  beforeAll(async () => {
    requireRoot();
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh --test)`);
    mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('hotpath-ui-');
    const a = compileWorkload(dir, 'uialpha', workload('ui_alpha_work'));
    const b = compileWorkload(dir, 'uibeta', workload('ui_beta_work'));
    agent = await startAgent(['--programs', 'cpu,runqlat,biolatency', '--window', '1s']);
    alpha = startProcess(a);
    // Alpha alone for a few windows, then beta too.
    await new Promise((r) => setTimeout(r, 4500));
    betaStart = Date.now() / 1000;
    beta = startProcess(b);
    // fio: direct reads on the root disk, so that block I/O completes while the agent watches.
    const fio = await runTool('fio', ['--name=ui', `--filename=${join(dir, 'fio.dat')}`, '--size=16M', '--rw=randread', '--bs=4k',
      '--direct=1', '--ioengine=psync', '--runtime=3', '--time_based', '--output-format=terse']);
    expect(fio.code, fio.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    alpha?.kill('SIGKILL');
    beta?.kill('SIGKILL');
    await agent?.stop();
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const t0 = Date.now();
    const res = await page.goto(`${agent.url}${path}`, { timeout: 30_000 });
    expect(res?.status()).toBe(200);
    await expect.poll(() => page.locator('#timeline g.win').count(), { timeout: 15_000 }).toBeGreaterThan(3);
    await graphLoaded(page);
    const readyMs = await page.locator('body').getAttribute('data-ready-ms');
    const windows = await page.locator('#timeline g.win').count();
    console.log(`ui: ${path}: first flamegraph in ${readyMs} ms after navigation (${windows} windows); test saw it after ${Date.now() - t0} ms`);
    // A bar's tooltip, written on hover: its series, value and window.
    await page.hover('#timeline g.win:last-of-type rect');
    await expect.poll(() => page.locator('#tip').textContent(), { timeout: 5_000 }).toMatch(/^.+: [\d.]+k? samples \(\d/);
    await page.mouse.move(0, 0);
    expect(errors).toEqual([]);
    return page;
  }

  /** The flamegraph iframe, once its page is there. */
  async function graphLoaded(page: Page, id = 'fg'): Promise<Frame> {
    const frame = await waitFor(`iframe #${id}`, async () => {
      const f = await (await page.$(`#${id}`))?.contentFrame();
      return f && (await f.$('svg#flamegraph')) ? f : undefined;
    }, 30_000);
    return frame;
  }

  const frameNames = (f: Frame) => f.$$eval('g.frame', (gs) => gs.map((g) => g.getAttribute('data-name') ?? ''));

  /** Drags on the timeline across the windows lying within [from, to] (Unix seconds). */
  async function selectRange(page: Page, from: number, to: number): Promise<void> {
    const boxes = await page.$$eval('#timeline g.win', (gs) => gs.map((g) => {
      const bb = (g as SVGGElement).getBBox();
      return { start: Number(g.getAttribute('data-start')), end: Number(g.getAttribute('data-end')), box: { x: bb.x, width: bb.width } };
    }));
    const inside = boxes.filter((b) => b.start >= from && b.end <= to && b.box.width > 0);
    expect(inside.length).toBeGreaterThan(0);
    const tl = await page.locator('#timeline').boundingBox();
    const x0 = tl!.x + inside[0].box.x + 1;
    const x1 = tl!.x + inside[inside.length - 1].box.x + inside[inside.length - 1].box.width - 1;
    const y = tl!.y + 60;
    await page.mouse.move(x0, y);
    await page.mouse.down();
    await page.mouse.move((x0 + x1) / 2, y, { steps: 4 });
    await page.mouse.move(x1, y, { steps: 4 });
    await page.mouse.up();
  }

  it('selects a range, filters by process, focuses, compares, shows heatmaps, and restores a pasted URL', async () => {
    const page = await open('/');
    await page.screenshot({ path: `${SHOTS}/1-overview.png`, fullPage: true });
    const all = await frameNames(await graphLoaded(page));
    expect(all).toContain('ui_alpha_work');
    expect(all).toContain('ui_beta_work');

    // A range before beta started: only alpha's function.
    await selectRange(page, 0, betaStart - 0.5);
    await expect.poll(() => page.evaluate(() => new URLSearchParams(location.search).get('to'))).not.toBeNull();
    await expect.poll(async () => frameNames(await graphLoaded(page)), { timeout: 20_000 }).not.toContain('ui_beta_work');
    expect(await frameNames(await graphLoaded(page))).toContain('ui_alpha_work');
    await expect.poll(() => page.locator('#top tr[data-name="ui_alpha_work"]').count()).toBe(1);
    expect(await page.locator('#top tr[data-name="ui_beta_work"]').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/2-range.png`, fullPage: true });

    // The whole history, filtered to alpha: beta's frames are gone from the graph and the timeline's legend.
    await page.locator('#timeline').focus();
    await page.keyboard.press('Escape');
    await page.locator('#f-comm').fill('uialpha');
    await page.locator('#f-comm').press('Enter');
    await expect.poll(() => page.evaluate(() => new URLSearchParams(location.search).get('comm'))).toBe('uialpha');
    await expect.poll(async () => {
      const names = await frameNames(await graphLoaded(page));
      return names.includes('ui_alpha_work') && !names.includes('ui_beta_work');
    }, { timeout: 20_000 }).toBe(true);
    await expect.poll(() => page.locator('#legend').textContent()).not.toMatch(/uibeta/);
    await page.screenshot({ path: `${SHOTS}/3-filter.png`, fullPage: true });

    // Focus from the table: a sandwich (callers of alpha's function above, its callees below).
    await page.locator('#f-comm').fill('');
    await page.locator('#f-comm').press('Enter');
    await page.locator('#top tr[data-name="ui_alpha_work"]').click();
    await expect.poll(() => page.evaluate(() => new URLSearchParams(location.search).get('focus'))).toBe('ui_alpha_work');
    const callers = await graphLoaded(page, 'fg');
    await expect.poll(async () => (await callers.locator('svg#flamegraph .title').textContent()) ?? '', { timeout: 20_000 }).toMatch(/Callers of ui_alpha_work/);
    expect(await frameNames(callers)).toContain('main');
    await graphLoaded(page, 'fg2');
    await page.screenshot({ path: `${SHOTS}/4-sandwich.png`, fullPage: true });
    await page.locator('#unfocus').click();

    // Compare: the range after beta started against a base pinned before it started: beta's function grew. (A
    // base of "the period before" may hold beta's first window, and shares in the later range are diluted by the
    // browser this test starts, so there beta can come out as shrunk.)
    const first = Number(await page.$eval('#timeline g.win:first-of-type', (g) => g.getAttribute('data-start')));
    const end = Number(await page.$eval('#timeline g.win:last-of-type', (g) => g.getAttribute('data-end')));
    await selectRange(page, first, betaStart - 0.2);
    await expect.poll(() => page.evaluate(() => new URLSearchParams(location.search).get('from'))).not.toBeNull();
    await page.locator('#cmp-pin').click();
    await expect.poll(() => page.evaluate(() => new URLSearchParams(location.search).get('base_from'))).not.toBeNull();
    await selectRange(page, betaStart + 0.5, end);
    await expect.poll(() => page.evaluate(() => Number(new URLSearchParams(location.search).get('from')))).toBeGreaterThan(betaStart);
    await expect.poll(() => page.locator('#top tr.grew[data-name="ui_beta_work"]').count(), { timeout: 20_000 }).toBe(1);
    const diff = await graphLoaded(page);
    await expect.poll(() => diff.$eval('svg#flamegraph', (s) => s.getAttribute('data-diff')), { timeout: 20_000 }).toBe('1');
    // The function's widest frame (its main stack; slivers under other stacks can be near white, as the first in
    // document order once was).
    // Polled: the page may load the graph again meanwhile (its frames are gone until it is in).
    const widestFill = () =>
      diff.$$eval('g.frame[data-name="ui_beta_work"] rect', (rs) =>
        rs.length === 0 ? '' : (rs.reduce((w, r) => (Number(r.getAttribute('width')) > Number(w.getAttribute('width')) ? r : w)).getAttribute('fill') ?? ''));
    await expect.poll(widestFill, { timeout: 20_000 }).toMatch(/^rgb/);
    const fill = await widestFill();
    const [r, g, b] = (/rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(fill) ?? []).slice(1).map(Number);
    expect(r, fill).toBeGreaterThan(g + 40);
    expect(r, fill).toBeGreaterThan(b + 40);
    // The hint given when the base was pinned is gone once the range compared with it is chosen.
    expect(await page.locator('#status').textContent()).not.toContain('Base pinned');
    await page.screenshot({ path: `${SHOTS}/5-compare.png`, fullPage: true });

    // Heatmaps: cells after fio ran, both metrics, with p50/p99 lines.
    await expect.poll(() => page.locator('#heat-biolatency rect.cell').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#heat-runqlat rect.cell').count()).toBeGreaterThan(0);
    expect(await page.locator('#heat-biolatency path.p99').getAttribute('d')).toMatch(/^M/);
    await page.locator('#heat-biolatency rect.cell').first().hover();
    await expect.poll(() => page.locator('#tip').textContent()).toMatch(/\d+ events/);
    await page.locator('#heatmaps').screenshot({ path: `${SHOTS}/6-heatmaps.png` });

    // The URL restores the view: a fresh page on it shows the same range, base and graph.
    const url = page.url();
    const state = new URL(url).search;
    const again = await open(state.startsWith('?') ? `/${state}` : '/');
    expect(new URL(again.url()).search).toBe(state);
    expect(await again.locator('#range').textContent()).toBe(await page.locator('#range').textContent());
    await expect.poll(() => again.locator('#top tr.grew[data-name="ui_beta_work"]').count(), { timeout: 20_000 }).toBe(1);
    const dl = await again.locator('#download').getAttribute('href');
    expect(dl).toMatch(/^\/debug\/pprof\/profile\?from=[\d.]+&to=[\d.]+$/);
    const pprof = await fetch(`${agent.url}${dl}`);
    expect(pprof.status).toBe(200);
    // "Compare with the period before": the base becomes the same length just before the selection.
    await again.locator('#cmp-prev').click();
    const selFrom = Number(new URLSearchParams(state).get('from'));
    await expect.poll(() => again.evaluate(() => Number(new URLSearchParams(location.search).get('base_to')))).toBeCloseTo(selFrom, 2);
    const q = new URLSearchParams(new URL(again.url()).search);
    const [from, to, bfrom] = ['from', 'to', 'base_from'].map((k) => Number(q.get(k)));
    expect(from).toBeCloseTo(selFrom, 2);
    expect(Math.abs(from - bfrom - (to - from))).toBeLessThan(0.01);
    await again.close();
    await page.close();

    // Dark mode is readable: a screenshot to look at.
    const dark = await browser.newPage({ viewport: { width: 1366, height: 900 }, colorScheme: 'dark' });
    dark.on('request', (rq) => requests.push(rq.url()));
    await dark.goto(`${agent.url}/`);
    await graphLoaded(dark);
    await dark.waitForTimeout(500);
    await dark.screenshot({ path: `${SHOTS}/7-dark.png`, fullPage: true });
    await dark.close();

    // No request left the agent.
    const outside = requests.filter((u) => !u.startsWith(`${agent.url}/`));
    expect(requests.length).toBeGreaterThan(10);
    expect(outside).toEqual([]);
  }, 180_000);

  it('answers bad UI API input with 400s that name the problem', async () => {
    for (const [path, message] of [
      ['/api/timeline?by=color', /invalid by "color"/],
      ['/api/timeline?type=wall', /invalid type "wall"/],
      ['/api/heatmap?metric=foo', /invalid metric "foo"/],
      ['/api/top?tid=abc', /invalid tid "abc"/],
      ['/flamegraph?seconds=1&focus=x&view=up', /invalid view "up"/],
      ['/flamegraph?seconds=1&base_from=1', /base_from and base_to go together/],
    ] as const) {
      const res = await fetch(`${agent.url}${path}`);
      expect(res.status, path).toBe(400);
      expect(await res.text(), path).toMatch(message);
    }
  });
});
