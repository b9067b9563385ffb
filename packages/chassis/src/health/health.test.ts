import { afterEach, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service.js';

let service: Service | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

async function build(env: Record<string, string> = {}): Promise<Service> {
  service = await createService({
    name: 'health-test',
    version: '1.0.0',
    configSources: { env: { LOG_LEVEL: 'silent', ...env }, argv: [] },
  });
  return service;
}

describe('health', () => {
  it('live answers 200 while ready reflects checks', async () => {
    const svc = await build();
    let dbUp = true;
    svc.health.addCheck('db', async () => {
      if (!dbUp) throw new Error('connection refused');
    });
    svc.health.addCheck('cache', () => false, { critical: false });
    const live = await svc.app.inject({ url: '/health/live' });
    expect(live.statusCode).toBe(200);

    let ready = await svc.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    let body = ready.json();
    expect(body.status).toBe('ready');
    expect(body.checks.db).toMatchObject({ status: 'pass', critical: true });
    expect(body.checks.cache).toMatchObject({
      status: 'fail',
      critical: false,
      error: 'check returned false',
    });
    expect(typeof body.checks.db.duration_ms).toBe('number');

    dbUp = false;
    ready = await svc.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    body = ready.json();
    expect(body.status).toBe('unready');
    expect(body.checks.db).toMatchObject({ status: 'fail', error: 'connection refused' });
    expect((await svc.app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });

  it('a hanging check times out instead of hanging readiness', async () => {
    const svc = await build({ HEALTH_CHECK_TIMEOUT_MS: '100' });
    let aborted = false;
    svc.health.addCheck('hangs', (signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      return new Promise(() => {});
    });
    svc.health.addCheck('slow-but-allowed', () => new Promise((r) => setTimeout(() => r({ lag: 1 }), 150)), {
      timeoutMs: 1000,
    });
    const started = Date.now();
    const ready = await svc.app.inject({ url: '/health/ready' });
    expect(Date.now() - started).toBeLessThan(900);
    expect(ready.statusCode).toBe(503);
    const body = ready.json();
    expect(body.checks.hangs).toMatchObject({ status: 'fail', error: 'timed out after 100 ms' });
    expect(body.checks['slow-but-allowed']).toMatchObject({ status: 'pass', details: { lag: 1 } });
    expect(aborted).toBe(true);
  });

  it('rejects duplicate check names', async () => {
    const svc = await build();
    svc.health.addCheck('x', () => true);
    expect(() => svc.health.addCheck('x', () => true)).toThrow(/already registered/);
  });

  it('readiness turns 503 as soon as shutdown begins, while in-flight requests finish', async () => {
    const svc = await build({ PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DRAIN_DELAY_MS: '300' });
    let release: () => void = () => {};
    svc.app.get('/work', async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      return { ok: true };
    });
    const { url } = await svc.start();
    const inflight = fetch(`${url}/work`);
    await new Promise((r) => setTimeout(r, 50));
    const stopping = svc.stop();
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'unready', reason: 'shutting down' });
    release();
    expect((await inflight).status).toBe(200);
    await stopping;
  });
});

describe('health details on failure', () => {
  it('reports details attached to a thrown error', async () => {
    const svc = await build();
    svc.health.addCheck(
      'circuits',
      () => {
        throw Object.assign(new Error('2 circuits open'), { details: { open: ['a', 'b'] } });
      },
      { critical: false },
    );
    const body = (await svc.app.inject({ url: '/health/ready' })).json();
    expect(body.checks.circuits).toMatchObject({
      status: 'fail',
      error: '2 circuits open',
      details: { open: ['a', 'b'] },
    });
  });
});
