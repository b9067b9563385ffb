import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service.js';
import { createTestKeys, getFreePort, LogCapture, type TestKeys } from '../testing/index.js';

const SECRET = 'sk_live_9f8e7d6c5b4a';

const serviceConfig = {
  upstream: {
    url: { doc: 'Upstream base URL', format: String, default: 'https://upstream.test', env: 'UPSTREAM_URL' },
    credential: {
      doc: 'Upstream API credential',
      format: String,
      default: '',
      env: 'UPSTREAM_CREDENTIAL',
      sensitive: true,
    },
    // Forgotten `sensitive: true`: caught by the credential-name redaction
    db_password: { doc: 'Legacy DB password', format: String, default: '', env: 'UPSTREAM_DB_PASSWORD' },
  },
};
const LEGACY_SECRET = 'legacy-pw-31337';

async function makeService(
  keys: TestKeys,
  env: Record<string, string> = {},
  logDestination?: LogCapture,
): Promise<Service> {
  const service = await createService({
    name: 'admin-test',
    version: '4.5.6',
    config: serviceConfig,
    configSources: {
      env: {
        LOG_LEVEL: 'info',
        AUTH_PUBLIC_KEYS: keys.jwks,
        UPSTREAM_CREDENTIAL: SECRET,
        UPSTREAM_DB_PASSWORD: LEGACY_SECRET,
        ...env,
      },
      argv: [],
    },
    ...(logDestination ? { logDestination } : {}),
    routes: (app) => {
      app.get('/work', async (request) => {
        request.log.debug({ step: 'detail' }, 'debug work');
        request.log.info('info work');
        return { done: true };
      });
    },
  });
  await service.app.ready();
  if (service.adminApp !== service.app) await service.adminApp.ready();
  return service;
}

describe('admin routes', () => {
  let keys: TestKeys;
  let service: Service;
  let admin: string;
  let user: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    keys = await createTestKeys();
    service = await makeService(keys, {}, logs);
    admin = `Bearer ${await keys.mint({ subject: 'ops-alice', scopes: ['admin'] })}`;
    user = `Bearer ${await keys.mint({ subject: 'bob', scopes: ['index:write'] })}`;
  });
  afterAll(() => service.stop());

  it('requires the admin scope on every admin route', async () => {
    for (const [method, url] of [
      ['GET', '/admin/info'],
      ['GET', '/admin/log-level'],
      ['PUT', '/admin/log-level'],
    ] as const) {
      const anonymous = await service.app.inject({ method, url, payload: { level: 'info' } });
      expect(anonymous.statusCode).toBe(401);
      const denied = await service.app.inject({
        method,
        url,
        headers: { authorization: user },
        payload: { level: 'info' },
      });
      expect(denied.statusCode).toBe(403);
      expect(denied.json().missing.scopes).toEqual(['admin']);
    }
  });

  it('GET /admin/info reports identity, uptime and config with secrets redacted', async () => {
    const response = await service.app.inject({ url: '/admin/info', headers: { authorization: admin } });
    expect(response.statusCode).toBe(200);
    const info = response.json();
    expect(info).toMatchObject({
      service: 'admin-test',
      version: '4.5.6',
      chassis_version: service.chassisVersion,
      node_version: process.version,
      uptime_s: expect.any(Number),
      started_at: expect.any(String),
    });
    expect(info.config.port).toBe(3000);
    expect(info.config.upstream.url).toBe('https://upstream.test');
    expect(info.config.upstream.credential).toBe('[Sensitive]');
    expect(info.config.upstream.db_password).toBe('[REDACTED]');
    expect(response.body).not.toContain(SECRET);
    expect(response.body).not.toContain(LEGACY_SECRET);
    expect(service.config).toMatchObject({ upstream: { credential: SECRET, db_password: LEGACY_SECRET } });
  });

  it('GET /admin/log-level reports the current level', async () => {
    const response = await service.app.inject({ url: '/admin/log-level', headers: { authorization: admin } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ level: 'info' });
  });

  it('PUT /admin/log-level rejects a bad level with a machine-readable 400', async () => {
    const response = await service.app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      headers: { authorization: admin },
      payload: { level: 'loud', extra: true },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    const paths = body.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['body/extra', 'body/level']);
    const level = body.details.find((d: { path: string }) => d.path === 'body/level');
    expect(level.message).toMatch(/allowed values/);
    expect(level.params.allowedValues).toContain('debug');
    const missing = await service.app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      headers: { authorization: admin },
      payload: {},
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().details[0].path).toBe('body/level');
  });

  it('PUT /admin/log-level changes what route loggers write', async () => {
    logs.clear();
    await service.app.inject({ url: '/work' });
    expect(logs.find('info work')).toHaveLength(1);
    expect(logs.find('debug work')).toHaveLength(0);

    const put = await service.app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      headers: { authorization: admin },
      payload: { level: 'debug' },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ level: 'debug', previous: 'info' });
    expect(logs.find('log level changed at runtime').at(-1)).toMatchObject({
      previous: 'info',
      level: 'debug',
      by: 'ops-alice',
    });

    await service.app.inject({ url: '/work' });
    const debug = logs.find('debug work');
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatchObject({ level: 'debug', step: 'detail', request_id: expect.any(String) });
    const get = await service.app.inject({ url: '/admin/log-level', headers: { authorization: admin } });
    expect(get.json().level).toBe('debug');

    // Quieter than warn: the change is still on record, then info lines stop
    logs.clear();
    const quiet = await service.app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      headers: { authorization: admin },
      payload: { level: 'error' },
    });
    expect(quiet.json()).toEqual({ level: 'error', previous: 'debug' });
    expect(logs.find('log level changed at runtime')).toHaveLength(1);
    await service.app.inject({ url: '/work' });
    expect(logs.find('info work')).toHaveLength(0);
    expect(logs.find('debug work')).toHaveLength(0);
  });

  it('honours admin.scope', async () => {
    const custom = await makeService(keys, { ADMIN_SCOPE: 'fleet:ops', LOG_LEVEL: 'silent' });
    try {
      const ops = `Bearer ${await keys.mint({ subject: 'ops', scopes: ['fleet:ops'] })}`;
      expect(
        (await custom.app.inject({ url: '/admin/info', headers: { authorization: admin } })).statusCode,
      ).toBe(403);
      expect(
        (await custom.app.inject({ url: '/admin/info', headers: { authorization: ops } })).statusCode,
      ).toBe(200);
    } finally {
      await custom.stop();
    }
  });

  it('leaves health and metrics unauthenticated on the main port', async () => {
    expect((await service.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await service.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
    const metrics = await service.app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('service_info');
  });
});

describe('separate admin port (ADMIN_PORT), over real sockets', () => {
  let keys: TestKeys;
  let service: Service;
  let urls: { url: string; adminUrl: string };
  let adminPort: number;

  beforeAll(async () => {
    keys = await createTestKeys('EdDSA');
    adminPort = await getFreePort();
    service = await makeService(keys, {
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'silent',
    });
    urls = await service.start();
  });
  afterAll(() => service.stop());

  it('listens on two ports', () => {
    expect(urls.adminUrl).toBe(`http://127.0.0.1:${adminPort}`);
    expect(urls.url).not.toBe(urls.adminUrl);
    expect(service.adminApp).not.toBe(service.app);
  });

  it('serves health and metrics on the admin port without a token, and not on the main port', async () => {
    const live = await fetch(`${urls.adminUrl}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'live' });
    expect((await fetch(`${urls.adminUrl}/health/ready`)).status).toBe(200);
    const metrics = await fetch(`${urls.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('http_server_request_duration_seconds');
    expect((await fetch(`${urls.url}/health/live`)).status).toBe(404);
    expect((await fetch(`${urls.url}/metrics`)).status).toBe(404);
  });

  it('serves admin routes (with the admin scope) on the admin port only', async () => {
    const token = await keys.mint({ subject: 'ops', scopes: ['admin'] });
    expect((await fetch(`${urls.adminUrl}/admin/info`)).status).toBe(401);
    const info = await fetch(`${urls.adminUrl}/admin/info`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(info.status).toBe(200);
    const text = await info.text();
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text).config.admin.port).toBe(adminPort);
    const onMain = await fetch(`${urls.url}/admin/info`, { headers: { authorization: `Bearer ${token}` } });
    expect(onMain.status).toBe(404);
    const bad = await fetch(`${urls.adminUrl}/admin/log-level`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'chatty' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('validation_failed');
  });

  it('keeps serving the service routes on the main port', async () => {
    const response = await fetch(`${urls.url}/work`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
  });
});
