import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../service.js';
import type { LogCapture } from '../testing/index.js';
import { MemoryFlagStore } from './store.js';
import { adminToken, metricValue, startTestService, testKeys, waitFor } from './test-helpers.js';

describe('http flag store (polling a central decider service)', () => {
  let central: Service;
  let edge: Service;
  let edgeLogs: LogCapture;
  let centralUrl: string;
  const stopped: Service[] = [];

  beforeAll(async () => {
    ({ service: central } = await startTestService({}, { name: 'decider' }));
    centralUrl = (await central.start()).url;
    ({ service: edge, logs: edgeLogs } = await startTestService({
      FLAGS_STORE: 'http',
      FLAGS_HTTP_URL: centralUrl,
      FLAGS_HTTP_TOKEN: await adminToken('svc-edge'),
      FLAGS_POLL_INTERVAL_MS: '50',
    }));
  });
  afterAll(async () => {
    await edge.stop();
    for (const service of [central, ...stopped]) await service.stop();
  });

  it('polls the central service and sees its flips; its code defaults stay its own', async () => {
    await central.flags.set('http.flag', 2500, { by: 'ops', owner: 'team-x' });
    central.flags.define('central.only', { default: true });
    await waitFor(() => edge.flags.value('http.flag') === 2500, { what: 'the flip to reach the edge' });
    expect(edge.flags.get('http.flag')).toMatchObject({ source: 'store', updatedBy: 'ops', owner: 'team-x' });
    expect(edge.flags.get('central.only')).toBeUndefined();
    expect(edge.flags.status.up).toBe(true);
  });

  it('writes through to the central service', async () => {
    const response = await edge.app.inject({
      method: 'PUT',
      url: '/admin/flags/http.flag',
      headers: { authorization: `Bearer ${await adminToken('carol')}` },
      payload: { value: 7000 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ value: 7000, previous: 2500 });
    expect(central.flags.value('http.flag')).toBe(7000);
    expect(edge.flags.value('http.flag')).toBe(7000);
  });

  it('keeps serving the snapshot while the central service is down, stays ready, and catches up', async () => {
    const port = Number(new URL(centralUrl).port);
    await central.stop();
    await waitFor(() => !edge.flags.status.up, { what: 'the outage to be noticed' });
    expect(edge.flags.value('http.flag')).toBe(7000);
    expect(edge.flags.isAvailable('http.flag', 'user-1')).toBe(edge.flags.isAvailable('http.flag', 'user-1'));
    const metrics = await edge.app.inject({ method: 'GET', url: '/metrics' });
    expect(metricValue(metrics.body, 'flags_store_up')).toBe(0);
    const readiness = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    const report = await edge.health.readiness();
    expect(report.status).toBe('ready');
    expect(report.checks.flags).toMatchObject({ status: 'fail', critical: false });
    expect(readiness.statusCode).toBe(200);
    expect(edgeLogs.find('flag store unreachable: serving the last good snapshot')).toHaveLength(1);
    const write = await edge.app.inject({
      method: 'PUT',
      url: '/admin/flags/http.flag',
      headers: { authorization: `Bearer ${await adminToken('carol')}` },
      payload: { value: 0 },
    });
    expect(write.statusCode).toBe(503);
    expect(write.json()).toMatchObject({ code: 'flag_store_unavailable' });

    // back, with a change made meanwhile
    const { service: revived } = await startTestService(
      { PORT: String(port) },
      { name: 'decider', store: new MemoryFlagStore([{ name: 'http.flag', value: 10_000 }]) },
    );
    stopped.push(revived);
    await revived.start();
    await waitFor(() => edge.flags.status.up && edge.flags.value('http.flag') === 10_000, {
      what: 'recovery',
    });
    expect(edgeLogs.find('flag store reachable again')).toHaveLength(1);
  });

  it('treats a token the central service refuses as the store being down', async () => {
    const reader = await (await testKeys()).mint({ subject: 'svc-reader', scopes: ['read'] });
    const { service, logs } = await startTestService({
      FLAGS_STORE: 'http',
      FLAGS_HTTP_URL: centralUrl,
      FLAGS_HTTP_TOKEN: reader,
      FLAGS_POLL_INTERVAL_MS: '1000',
    });
    expect(service.flags.status.up).toBe(false);
    const warning = logs.find('flag store unreachable: serving the last good snapshot')[0];
    expect(JSON.stringify(warning)).toContain('403');
    await service.stop();
  });
});
