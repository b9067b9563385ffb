import { createService, type Service } from '@fleet/chassis';
import { createTestKeys, type TestKeys } from '@fleet/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HelloConfig, hello } from '../src/service.js';

let service: Service<HelloConfig>;
let keys: TestKeys;

beforeAll(async () => {
  keys = await createTestKeys();
  service = await createService({
    ...hello,
    configSources: { env: { LOG_LEVEL: 'silent', AUTH_PUBLIC_KEYS: keys.jwks, GREETING: 'hi' }, argv: [] },
  });
  await service.app.ready();
});
afterAll(() => service.stop());

describe('hello service', () => {
  it('greets with the configured word and counts greetings', async () => {
    const res = await service.app.inject({ url: '/hello/ada' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'hi, ada' });
    const metrics = await service.app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/^hello_greetings_total 1$/m);
    expect(metrics.body).toMatch(
      /http_server_request_duration_seconds_count\{method="GET",route="\/hello\/:id",status_code="200"\} 1/,
    );
  });

  it('requires a valid token on /whoami', async () => {
    expect((await service.app.inject({ url: '/whoami' })).statusCode).toBe(401);
    const token = await keys.mint({ subject: 'ada' });
    const res = await service.app.inject({ url: '/whoami', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ subject: 'ada' });
  });

  it('is ready', async () => {
    const res = await service.app.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(200);
  });
});
