import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Demo } from '../src/index.js';
import { call, metric } from './helpers.js';

/** The README walkthrough, step by step, through real HTTP: shared by the embedded and Postgres suites. */
export function urls(demo: Demo) {
  const url = (name: keyof Demo['services']) => {
    const service = demo.services[name];
    if (!service) throw new Error(`${name} is not running`);
    return service.url;
  };
  return {
    alf: url('alf'),
    loggen: url('log-generator'),
    indexes: url('index-provisioner'),
    plugins: url('plugin-runner'),
    console: demo.services.console?.url,
  };
}

/** Step 1: flip log-generator.flood off where the README says (console, else the service) and back on. */
export async function flipFloodFlag(demo: Demo): Promise<void> {
  const u = urls(demo);
  const token = demo.tokens.admin;
  const flip = (value: number) =>
    u.console
      ? call(`${u.console}/api/flags/log-generator.flood`, token, { method: 'PUT', body: { value } })
      : call(`${u.loggen}/admin/flags/log-generator.flood`, token, { method: 'PUT', body: { value } });
  const flood = async () => (await call(`${u.loggen}/admin/loggen`, token)).body.flood;
  expect(await flood()).toMatchObject({ on: true, service: 'chatty-search' });
  expect((await flip(0)).status).toBe(200);
  await expect.poll(flood, { timeout: 10_000 }).toMatchObject({ on: false, effectiveRate: 0 });
  expect((await flip(10_000)).status).toBe(200);
  await expect.poll(flood, { timeout: 10_000 }).toMatchObject({ on: true });
}

/** Step 2: throttling chatty-search makes ALF count drops for it. */
export async function throttleFlood(demo: Demo): Promise<void> {
  const u = urls(demo);
  const token = demo.tokens.admin;
  const dropped = () => metric(u.alf, 'alf_events_dropped_total', { service: 'chatty-search' });
  const top = await call(`${u.alf}/admin/alf/top?window=10`, token);
  expect(top.status).toBe(200);
  await expect
    .poll(async () => (await call(`${u.alf}/admin/alf/top?window=10`, token)).body.services?.[0]?.service, {
      timeout: 15_000,
    })
    .toBe('chatty-search');
  const before = await dropped();
  const res = u.console
    ? await call(`${u.console}/api/alf/throttle`, token, {
        method: 'POST',
        body: { service: 'chatty-search' },
      })
    : await call(`${u.alf}/admin/flags/alf.drop.service.chatty-search`, token, {
        method: 'PUT',
        body: { value: 9000 },
      });
  expect(res.status).toBe(200);
  await expect.poll(dropped, { timeout: 15_000 }).toBeGreaterThan(before + 100);
  // the calm services are not touched
  expect(await metric(u.alf, 'alf_events_dropped_total', { service: 'checkout' })).toBe(0);
}

/** Step 3: change ALF's log level at runtime. */
export async function changeLogLevel(demo: Demo): Promise<void> {
  const u = urls(demo);
  const token = demo.tokens.admin;
  const res = u.console
    ? await call(`${u.console}/api/services/alf/log-level`, token, {
        method: 'PUT',
        body: { level: 'error' },
      })
    : await call(`${u.alf}/admin/log-level`, token, { method: 'PUT', body: { level: 'error' } });
  expect(res.status).toBe(200);
  expect((await call(`${u.alf}/admin/log-level`, token)).body).toMatchObject({ level: 'error' });
  const bad = await call(`${u.alf}/admin/log-level`, token, { method: 'PUT', body: { level: 'loud' } });
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ code: 'validation_failed' });
}

/** Step 4: create an index and deploy it: the conf file appears in the directory target. */
export async function createAndDeployIndex(demo: Demo, name = 'payments_api'): Promise<void> {
  const u = urls(demo);
  const token = demo.tokens.admin;
  const created = await call(`${u.indexes}/v1/indexes`, token, {
    method: 'POST',
    body: {
      name,
      datatype: 'event',
      retention: { days: 30 },
      maxTotalDataSizeMB: 10240,
      owner: 'payments',
      cluster: 'dev',
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const deployment = await call(`${u.indexes}/v1/deployments`, token, {
    method: 'POST',
    body: { cluster: 'dev' },
  });
  expect(deployment.status, JSON.stringify(deployment.body)).toBe(202);
  await expect
    .poll(async () => (await call(`${u.indexes}/v1/deployments/${deployment.body.id}`, token)).body.status, {
      timeout: 15_000,
    })
    .toBe('succeeded');
  const file = join(demo.splunkDir, 'manager-apps', 'fleet_indexes', 'local', 'indexes.conf');
  expect(existsSync(file)).toBe(true);
  expect(readFileSync(file, 'utf8')).toContain(`[${name}]`);
}

/** Step 5: the plugin's cursor advances as the fake API publishes items. */
export async function cursorAdvances(demo: Demo): Promise<void> {
  const u = urls(demo);
  const cursor = async () =>
    Number(
      (await call(`${u.plugins}/v1/instances/${demo.pluginInstance}`, demo.tokens.read)).body.status
        ?.cursor ?? 0,
    );
  await expect.poll(cursor, { timeout: 20_000 }).toBeGreaterThan(0);
  const first = await cursor();
  await expect.poll(cursor, { timeout: 20_000 }).toBeGreaterThan(first);
  expect(
    await metric(u.plugins, 'plugin_runner_events_produced_total', { instance: demo.pluginInstance }),
  ).toBeGreaterThan(0);
}
