// A real browser (Debian chromium driven by playwright-core) on the /flamegraph page of a live agent.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { HOT_LOOP_SOURCE, compileWorkload, requireRoot, startAgent, startProcess, tempDir, type RunningAgent } from '../test-support/kernel.js';

const CHROMIUM = '/usr/bin/chromium';

describe('/flamegraph in a real browser (kernel)', () => {
  let agent: RunningAgent;
  let workload: ChildProcess;
  let browser: Browser;

  beforeAll(async () => {
    requireRoot();
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh --test)`);
    const dir = tempDir('hotpath-page-');
    workload = startProcess(compileWorkload(dir, 'hot', HOT_LOOP_SOURCE));
    agent = await startAgent(['--programs', 'cpu', '--window', '2s']);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    workload?.kill('SIGKILL');
    await agent?.stop();
  });

  it('shows the hot function, zooms on click, searches and resets', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const res = await page.goto(`${agent.url}/flamegraph?type=cpu&seconds=3`, { timeout: 30_000 });
    expect(res?.status()).toBe(200);
    const hot = page.locator('g.frame[data-name="hotpath_serve_hot"]').first();
    await expect.poll(() => hot.count()).toBe(1);
    const svgWidth = Number(await page.locator('svg#flamegraph').getAttribute('width'));
    const widthOf = async () => Number(await hot.locator('rect').getAttribute('width'));

    // System-wide, the workload shares the graph with other processes: its frame is narrower than the graph
    // until a click zooms it to the full width.
    const before = await widthOf();
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(svgWidth * 0.97);
    await hot.click();
    await expect.poll(widthOf).toBeGreaterThan(svgWidth * 0.95);

    await page.locator('#search').fill('serve_hot$');
    await page.locator('#search').press('Enter');
    await expect.poll(async () => (await page.locator('#matched').textContent()) ?? '').toMatch(/Matched: \d+(\.\d)?%/);
    // The hot loop uses one of the two CPUs: it is a large share of all samples.
    const matched = Number(/Matched: ([\d.]+)%/.exec((await page.locator('#matched').textContent()) ?? '')?.[1]);
    console.log(`flamegraph page: hot frame ${before.toFixed(0)} of ${svgWidth} px before zoom; search matched ${matched}%`);
    expect(matched).toBeGreaterThan(20);
    expect(matched).toBeLessThanOrEqual(100);

    await hot.hover();
    expect(await page.locator('#details').textContent()).toMatch(/hotpath_serve_hot/);

    await page.locator('#reset').click();
    await page.screenshot({ path: '/tmp/hotpath-flamegraph-live.png' });
    await page.close();
  });
});
