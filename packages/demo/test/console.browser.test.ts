import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, REPO_ROOT, startDemo } from '../src/index.js';
import { call, metric, tempHome } from './helpers.js';

// The console in a real browser, on the demo stack: runs only once the console is built.
const CHROMIUM = '/usr/bin/chromium';
const built = existsSync(`${REPO_ROOT}services/console/dist/main.js`) && existsSync(CHROMIUM);
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url);

describe.skipIf(!built)('the console, driven in Chromium', () => {
  const dir = tempHome();
  let demo: Demo;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [demo, browser] = await Promise.all([
      startDemo({ home: dir.home, console: true, output: () => {} }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-quic',
          '--no-first-run',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(demo.consoleUrl ?? '');
    await page.waitForSelector('[data-testid="service-log-generator"][data-ready="true"]', {
      timeout: 20_000,
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    dir.remove();
  }, 30_000);

  const loggen = () => demo.services['log-generator']?.url ?? '';
  const alf = () => demo.services.alf?.url ?? '';

  it('flips a flag in the page and log-generator sees it', async () => {
    const flood = async () => (await call(`${loggen()}/admin/loggen`, demo.tokens.admin)).body.flood.on;
    expect(await flood()).toBe(true);
    await page.getByTestId('flag-new-name').fill('log-generator.flood');
    await page.getByTestId('flag-new-value').fill('0');
    await page.getByTestId('flag-new-save').click();
    await expect.poll(flood, { timeout: 10_000 }).toBe(false);
    // and back on, through the flag's own row now that the console lists it
    const input = page.getByTestId('flag-input-log-generator.flood');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('100');
    await page.getByTestId('flag-save-log-generator.flood').click();
    await expect.poll(flood, { timeout: 10_000 }).toBe(true);
  }, 40_000);

  it('throttles the flooding service with one click and the drop counter rises', async () => {
    const button = page.getByTestId('throttle-chatty-search');
    await button.waitFor({ timeout: 20_000 });
    const shown = async () =>
      Number(((await page.getByTestId('alf-dropped-total').textContent()) ?? '').replace(/\D/g, '') || 0);
    const before = await metric(alf(), 'alf_events_dropped_total', { service: 'chatty-search' });
    await button.click();
    await expect
      .poll(() => metric(alf(), 'alf_events_dropped_total', { service: 'chatty-search' }), {
        timeout: 15_000,
      })
      .toBeGreaterThan(before + 100);
    await expect.poll(shown, { timeout: 15_000 }).toBeGreaterThan(100);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('demo-console.png', ARTIFACTS).pathname, fullPage: true });
  }, 60_000);
});
