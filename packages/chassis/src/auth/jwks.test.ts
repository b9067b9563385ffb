import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service } from '../service.js';
import { createTestKeys, type JwksServer, startJwksServer, type TestKeys } from '../testing/index.js';
import { createTokenVerifier } from './verifier.js';

async function makeService(env: Record<string, string>): Promise<Service> {
  const service = await createService({
    name: 'jwks-test',
    version: '1.0.0',
    configSources: { env: { LOG_LEVEL: 'silent', ...env }, argv: [] },
    routes: (app) => {
      app.get('/me', { auth: true }, async (request) => ({ subject: request.principal?.subject }));
    },
  });
  await service.app.ready();
  return service;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('auth against a JWKS URL served over HTTP', () => {
  let current: TestKeys;
  let next: TestKeys;
  let jwks: JwksServer;
  let service: Service;

  beforeAll(async () => {
    [current, next] = await Promise.all([createTestKeys('ES256'), createTestKeys('EdDSA')]);
  });
  beforeEach(async () => {
    jwks = await startJwksServer(current);
    service = await makeService({ AUTH_JWKS_URL: jwks.url });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await service.stop();
    await jwks.close();
  });

  it('fetches the key set once and verifies from the cache afterwards', async () => {
    expect(jwks.fetches).toBe(0);
    for (let i = 0; i < 3; i++) {
      const token = await current.mint({ subject: `caller-${i}` });
      const response = await service.app.inject({ url: '/me', headers: bearer(token) });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ subject: `caller-${i}` });
    }
    expect(jwks.fetches).toBe(1);
  });

  it('refetches on an unknown kid after key rotation, then verifies (cooldown respected)', async () => {
    const start = Date.now();
    vi.setSystemTime(start);
    const first = await current.mint({ subject: 'before-rotation' });
    expect((await service.app.inject({ url: '/me', headers: bearer(first) })).statusCode).toBe(200);
    expect(jwks.fetches).toBe(1);

    // The identity provider rotates: the new key is published and starts signing
    jwks.setKeys(current, next);
    const rotated = await next.mint({ subject: 'after-rotation' });

    // Within the cooldown an unknown kid is refused without hammering the identity provider
    const early = await service.app.inject({ url: '/me', headers: bearer(rotated) });
    expect(early.statusCode).toBe(401);
    expect(jwks.fetches).toBe(1);

    // After the cooldown (30 s) the unknown kid triggers one refetch and verifies
    vi.setSystemTime(start + 31_000);
    const response = await service.app.inject({ url: '/me', headers: bearer(rotated) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ subject: 'after-rotation' });
    expect(jwks.fetches).toBe(2);

    // The old key is still in the set: its tokens keep working, from the cache
    expect((await service.app.inject({ url: '/me', headers: bearer(first) })).statusCode).toBe(200);
    expect(jwks.fetches).toBe(2);
  });

  it('does not refetch for a flood of forged kids within the cooldown', async () => {
    const token = await current.mint({ subject: 'ok' });
    expect((await service.app.inject({ url: '/me', headers: bearer(token) })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) {
      const stranger = await createTestKeys('ES256');
      const forged = await stranger.mint({ subject: 'forged' });
      expect((await service.app.inject({ url: '/me', headers: bearer(forged) })).statusCode).toBe(401);
    }
    expect(jwks.fetches).toBe(1);
  });

  it('stops verifying tokens of a key removed from the set once it is refetched', async () => {
    const verifier = await createTokenVerifier({
      jwksUrl: jwks.url,
      jwksCooldownMs: 0,
      jwksCacheMaxAgeMs: 0,
    });
    await expect(verifier.verify(await current.mint({ subject: 'a' }))).resolves.toMatchObject({
      subject: 'a',
    });
    jwks.setKeys(next);
    await expect(verifier.verify(await current.mint({ subject: 'a' }))).rejects.toMatchObject({
      reason: 'no key matches the token (unknown kid?)',
    });
    await expect(verifier.verify(await next.mint({ subject: 'b' }))).resolves.toMatchObject({ subject: 'b' });
  });

  it('answers 401 (not 500) when the JWKS endpoint is unreachable', async () => {
    await jwks.close();
    const token = await current.mint({ subject: 'x' });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expect(response.statusCode).toBe(401);
    expect(String(response.headers['www-authenticate'])).toMatch(/^Bearer error="invalid_token"/);
    jwks = await startJwksServer(current); // for afterEach
  });

  it('uses configured public keys first and the JWKS URL for other kids', async () => {
    const pinned = await createTestKeys('EdDSA');
    const both = await makeService({ AUTH_JWKS_URL: jwks.url, AUTH_PUBLIC_KEYS: pinned.jwks });
    try {
      const local = await pinned.mint({ subject: 'pinned' });
      expect((await both.app.inject({ url: '/me', headers: bearer(local) })).statusCode).toBe(200);
      expect(jwks.fetches).toBe(0);
      const remote = await current.mint({ subject: 'remote' });
      expect((await both.app.inject({ url: '/me', headers: bearer(remote) })).statusCode).toBe(200);
      expect(jwks.fetches).toBe(1);
    } finally {
      await both.stop();
    }
  });
});
