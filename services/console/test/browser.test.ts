import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type TestFleet, waitFor } from './fleet.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

if (!existsSync(CHROMIUM)) console.warn(`browser test skipped: ${CHROMIUM} is missing`);

describe.skipIf(!existsSync(CHROMIUM))('console page in headless Chromium', () => {
  let fleet: TestFleet;
  let profile: string;
  let context: BrowserContext;
  const byId = (page: Page, id: string) => page.getByTestId(id);

  beforeAll(async () => {
    fleet = await startFleet({ pollMs: 200 });
    // A fresh user-data dir per run: no state from earlier runs
    profile = await mkdtemp(join(tmpdir(), 'console-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      viewport: { width: 1400, height: 1200 },
    });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    await fleet?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows the fleet, sets flags that services see, and saves a screenshot', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${fleet.consoleUrl}/#token=${fleet.adminToken}`);

    // The token leaves the address bar once stored
    await waitFor(() => !page.url().includes('token='), 5000, 'the token out of the URL');
    await byId(page, 'service-orders').and(page.locator('[data-ready="true"]')).waitFor();
    await byId(page, 'service-ghost').and(page.locator('[data-ready="false"]')).waitFor();
    await expect(byId(page, 'service-ghost').textContent()).resolves.toMatch(/ECONNREFUSED/);
    await expect(byId(page, 'mode').textContent()).resolves.toBe('admin');

    // A failing check's message is shown as text, never as markup
    fleet.health.db = false;
    await byId(page, 'service-orders').and(page.locator('[data-ready="false"]')).waitFor();
    await expect(byId(page, 'service-orders').textContent()).resolves.toContain('<b>boom</b>');
    expect(await byId(page, 'service-orders').locator('b').count()).toBe(0);
    fleet.health.db = true;

    // A new flag through the form: 12.34 % is 1234 basis points, seen by the http-store reader
    await byId(page, 'flag-new-name').fill('demo.checkout');
    await byId(page, 'flag-new-value').fill('12.34');
    await byId(page, 'flag-new-save').click();
    await byId(page, 'flag-demo.checkout').waitFor();
    await waitFor(() => fleet.alf.flags.value('demo.checkout') === 1234, 3000, 'the reader to see 1234');

    // And changed in its row
    await byId(page, 'flag-input-demo.checkout').fill('0.01');
    await byId(page, 'flag-save-demo.checkout').click();
    await waitFor(() => fleet.alf.flags.value('demo.checkout') === 1, 3000, 'the reader to see 1');
    await page.locator('[data-testid="flag-demo.checkout"][data-value="1"]').waitFor();

    // ALF: talkers, dropped total, a one-click throttle
    fleet.alfCounters.ingest('chatty-search', 900, 300);
    await byId(page, 'talker-chatty-search').waitFor();
    await waitFor(async () => (await byId(page, 'alf-dropped-total').textContent()) === '300', 5000, 'drops');
    await byId(page, 'throttle-chatty-search').click();
    await waitFor(() => fleet.alf.flags.value('alf.drop.service.chatty-search') === 9000, 3000, 'throttle');
    await page.locator('[data-testid="talker-chatty-search"]', { hasText: '90.00%' }).waitFor();

    // index-provisioner and plugin-runner panels; a cursor is shown as text
    await byId(page, 'index-web_logs').waitFor();
    await expect(byId(page, 'cursor-gh-audit').textContent()).resolves.toContain('<script>alert(1)</script>');
    expect(await byId(page, 'cursor-gh-audit').locator('script').count()).toBe(0);

    // Log level per service
    await byId(page, 'loglevel-orders').selectOption('debug');
    await waitFor(() => fleet.orders.log.level === 'debug', 3000, 'orders at debug');

    // Charts are drawn by uPlot
    await byId(page, 'chart-events').locator('canvas').waitFor();
    await byId(page, 'chart-drops').locator('canvas').waitFor();

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('is read-only without the admin scope', async () => {
    const page = await context.newPage();
    await page.goto(`${fleet.consoleUrl}/#token=${fleet.readerToken}`);
    await byId(page, 'service-orders').waitFor();
    await byId(page, 'flag-demo.checkout').waitFor();
    await byId(page, 'talker-chatty-search').waitFor();
    await expect(byId(page, 'mode').textContent()).resolves.toBe('read-only');
    for (const id of [
      'flag-input-demo.checkout',
      'flag-save-demo.checkout',
      'flag-new-name',
      'flag-new-value',
      'flag-new-save',
      'throttle-chatty-search',
      'loglevel-orders',
    ])
      await expect(byId(page, id).isDisabled(), id).resolves.toBe(true);
    await page.close();
  });
});
