import { base64url, decodeJwt, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.js';
import { createService, type Service } from '../service.js';
import { createTestKeys, mintToken, type TestKeys } from '../testing/index.js';

const ISSUER = 'https://issuer.fleet.test';
const AUDIENCE = 'fleet-api';

async function makeService(env: Record<string, string>): Promise<Service> {
  const service = await createService({
    name: 'auth-test',
    version: '1.2.3',
    configSources: { env: { LOG_LEVEL: 'silent', ...env }, argv: [] },
    routes: (app) => {
      app.get('/public', async () => ({ ok: true }));
      app.get('/me', { auth: true }, async (request) => ({
        subject: request.principal?.subject,
        scopes: [...(request.principal?.scopes ?? [])].sort(),
        roles: [...(request.principal?.roles ?? [])].sort(),
      }));
      app.post('/index', { auth: { scopes: ['index:write'] } }, async () => ({ indexed: true }));
      app.get('/ops', { auth: { roles: ['operator'] } }, async () => ({ ops: true }));
      app.get('/both', { auth: { scopes: ['index:read'], roles: ['operator'] } }, async () => ({ ok: true }));
    },
  });
  await service.app.ready();
  return service;
}

/** RSA key generation is slow: one pair serves the whole file. */
let rsaKeys: Promise<TestKeys> | undefined;
const sharedRsa = () => {
  rsaKeys ??= createTestKeys('RS256');
  return rsaKeys;
};

function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Re-encode a token's payload with changes, keeping header and signature. */
function tamper(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
  return [header, base64url.encode(JSON.stringify({ ...claims, ...changes })), signature].join('.');
}

function expectInvalidToken(response: { statusCode: number; headers: Record<string, unknown> }): void {
  expect(response.statusCode).toBe(401);
  expect(String(response.headers['www-authenticate'])).toMatch(/^Bearer error="invalid_token"/);
}

describe('auth with configured public keys (JWKS JSON)', () => {
  let keys: TestKeys;
  let other: TestKeys;
  let service: Service;
  const claims = { issuer: ISSUER, audience: AUDIENCE, subject: 'svc-indexer' };

  beforeAll(async () => {
    keys = await createTestKeys('ES256');
    other = await createTestKeys('ES256');
    service = await makeService({
      AUTH_PUBLIC_KEYS: keys.jwks,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_CLOCK_TOLERANCE_SEC: '5',
    });
  });
  afterAll(() => service.stop());

  it('lets unauthenticated requests reach routes that do not declare auth', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/public' });
    expect(response.statusCode).toBe(200);
  });

  it('answers 401 with a Bearer challenge when the token is missing', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/me' });
    expectInvalidToken(response);
    expect(response.json()).toMatchObject({ statusCode: 401, code: 'invalid_token' });
  });

  it('answers 401 for a non-Bearer authorization scheme and for garbage', async () => {
    const token = await keys.mint(claims);
    expectInvalidToken(
      await service.app.inject({ method: 'GET', url: '/me', headers: { authorization: `Basic ${token}` } }),
    );
    expectInvalidToken(await service.app.inject({ method: 'GET', url: '/me', headers: bearer('not.a.jwt') }));
  });

  it('protects the HEAD route Fastify derives from a protected GET', async () => {
    const response = await service.app.inject({ method: 'HEAD', url: '/me' });
    expect(response.statusCode).toBe(401);
  });

  it('accepts a valid token and exposes the principal', async () => {
    const token = await keys.mint({ ...claims, scopes: ['index:read', 'index:write'], roles: ['operator'] });
    const response = await service.app.inject({ method: 'GET', url: '/me', headers: bearer(token) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      subject: 'svc-indexer',
      scopes: ['index:read', 'index:write'],
      roles: ['operator'],
    });
  });

  it('accepts scopes as a space-separated `scope` string', async () => {
    const token = await keys.mint({ ...claims, claims: { scope: 'index:read  index:write' } });
    const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ indexed: true });
  });

  it('accepts scopes as an `scp` array', async () => {
    const token = await keys.mint({ ...claims, claims: { scp: ['index:write'] } });
    const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
    expect(response.statusCode).toBe(200);
  });

  it('answers 403 with a machine-readable body when a scope is missing', async () => {
    const token = await keys.mint({ ...claims, scopes: ['index:read'] });
    const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
    expect(response.statusCode).toBe(403);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="index:write"',
    );
    expect(response.json()).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      code: 'insufficient_scope',
      message: 'token lacks required scopes or roles',
      missing: { scopes: ['index:write'], roles: [] },
    });
  });

  it('checks roles', async () => {
    const operator = await keys.mint({ ...claims, roles: ['operator'] });
    const viewer = await keys.mint({ ...claims, roles: ['viewer'] });
    expect((await service.app.inject({ url: '/ops', headers: bearer(operator) })).statusCode).toBe(200);
    const denied = await service.app.inject({ url: '/ops', headers: bearer(viewer) });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().missing).toEqual({ scopes: [], roles: ['operator'] });
  });

  it('requires every scope and role a route lists', async () => {
    const scopeOnly = await keys.mint({ ...claims, scopes: ['index:read'] });
    const both = await keys.mint({ ...claims, scopes: ['index:read'], roles: ['operator'] });
    const denied = await service.app.inject({ url: '/both', headers: bearer(scopeOnly) });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().missing).toEqual({ scopes: [], roles: ['operator'] });
    expect((await service.app.inject({ url: '/both', headers: bearer(both) })).statusCode).toBe(200);
  });

  it('rejects alg: none', async () => {
    const token = new UnsecuredJWT({ scope: 'index:write' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('svc-indexer')
      .setExpirationTime('5m')
      .encode();
    expect(token.endsWith('.')).toBe(true);
    const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
    expectInvalidToken(response);
  });

  it('rejects HS256 signed with the public key as HMAC secret (key confusion)', async () => {
    for (const secret of [keys.publicPem, keys.jwks, JSON.stringify(keys.publicJwk)]) {
      const token = await new SignJWT({ scope: 'index:write' })
        .setProtectedHeader({ alg: 'HS256', kid: keys.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('attacker')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
      expectInvalidToken(response);
      expect(response.json().message).toBe('token algorithm not allowed');
    }
  });

  it('rejects a wrong issuer', async () => {
    const token = await keys.mint({ ...claims, issuer: 'https://evil.test' });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toMatch(/iss/);
  });

  it('rejects a missing issuer when one is configured', async () => {
    const { issuer: _issuer, ...rest } = claims;
    const token = await keys.mint(rest);
    expectInvalidToken(await service.app.inject({ url: '/me', headers: bearer(token) }));
  });

  it('rejects a wrong audience', async () => {
    const token = await keys.mint({ ...claims, audience: 'another-api' });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toMatch(/aud/);
  });

  it('accepts an audience list that contains the configured audience', async () => {
    const token = await keys.mint({ ...claims, audience: ['another-api', AUDIENCE] });
    expect((await service.app.inject({ url: '/me', headers: bearer(token) })).statusCode).toBe(200);
  });

  it('rejects an expired token', async () => {
    const token = await keys.mint({ ...claims, expiresIn: -60 });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toBe('token expired');
  });

  it('tolerates clock skew within auth.clockToleranceSec on exp', async () => {
    const token = await keys.mint({ ...claims, expiresIn: -2 });
    expect((await service.app.inject({ url: '/me', headers: bearer(token) })).statusCode).toBe(200);
  });

  it('rejects a token that is not yet valid (nbf beyond the tolerance)', async () => {
    const token = await keys.mint({ ...claims, notBefore: 60 });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toMatch(/nbf/);
  });

  it('accepts nbf slightly in the future, within the tolerance', async () => {
    const token = await keys.mint({ ...claims, notBefore: 2 });
    expect((await service.app.inject({ url: '/me', headers: bearer(token) })).statusCode).toBe(200);
  });

  it('rejects a token without exp', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('forever')
      .sign(await importJWK(keys.privateJwk, 'ES256'));
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toMatch(/exp/);
  });

  it('rejects an unknown kid', async () => {
    const token = await other.mint(claims);
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toMatch(/no key matches/);
  });

  it('rejects a tampered payload (claim changed, signature kept)', async () => {
    const token = await keys.mint({ ...claims, scopes: ['index:read'] });
    const forged = tamper(token, { scope: 'index:read index:write' });
    expect(decodeJwt(forged).scope).toBe('index:read index:write');
    const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(forged) });
    expectInvalidToken(response);
    expect(response.json().message).toBe('signature verification failed');
  });

  it('rejects a token signed by the wrong key under a known kid', async () => {
    const token = await mintToken({ ...claims, privateKey: other.privateJwk, kid: keys.kid });
    const response = await service.app.inject({ url: '/me', headers: bearer(token) });
    expectInvalidToken(response);
    expect(response.json().message).toBe('signature verification failed');
  });
});

describe('auth algorithms and key formats', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('verifies %s tokens from a JWKS document', async (alg) => {
    const keys = alg === 'RS256' ? await sharedRsa() : await createTestKeys(alg);
    const service = await makeService({ AUTH_PUBLIC_KEYS: keys.jwks });
    try {
      const token = await keys.mint({ subject: `${alg}-caller`, scopes: ['index:write'] });
      const response = await service.app.inject({ method: 'POST', url: '/index', headers: bearer(token) });
      expect(response.statusCode).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('accepts PEM public keys (several blocks), with or without a kid in the token', async () => {
    const rsa = await sharedRsa();
    const ec = await createTestKeys('ES256');
    const ed = await createTestKeys('EdDSA');
    const service = await makeService({
      AUTH_PUBLIC_KEYS: [rsa.publicPem, ec.publicPem, ed.publicPem].join('\n'),
    });
    try {
      for (const keys of [rsa, ec, ed]) {
        // PEM keys are named by their RFC 7638 thumbprint, which is what createTestKeys uses as kid
        const withKid = await keys.mint({ subject: 'pem-caller' });
        expect((await service.app.inject({ url: '/me', headers: bearer(withKid) })).statusCode).toBe(200);
        const withoutKid = await mintToken({ privateKey: keys.privatePem, subject: 'pem-caller' });
        expect((await service.app.inject({ url: '/me', headers: bearer(withoutKid) })).statusCode).toBe(200);
      }
      const stranger = await createTestKeys('ES256');
      const denied = await mintToken({ privateKey: stranger.privatePem, subject: 'x' });
      expectInvalidToken(await service.app.inject({ url: '/me', headers: bearer(denied) }));
    } finally {
      await service.stop();
    }
  });

  it('honours the algorithm allow-list', async () => {
    const keys = await sharedRsa();
    const service = await makeService({ AUTH_PUBLIC_KEYS: keys.jwks, AUTH_ALGORITHMS: 'ES256,EdDSA' });
    try {
      const token = await keys.mint({ subject: 'rsa-caller' });
      const response = await service.app.inject({ url: '/me', headers: bearer(token) });
      expectInvalidToken(response);
      expect(response.json().message).toBe('token algorithm not allowed');
    } finally {
      await service.stop();
    }
  });

  it('answers 401 on protected routes when auth is not configured', async () => {
    const keys = await createTestKeys();
    const service = await makeService({});
    try {
      expect(service.auth.configured).toBe(false);
      const response = await service.app.inject({
        url: '/me',
        headers: bearer(await keys.mint({ subject: 'x' })),
      });
      expectInvalidToken(response);
      expect((await service.app.inject({ url: '/public' })).statusCode).toBe(200);
    } finally {
      await service.stop();
    }
  });
});

describe('invalid auth configuration → ConfigError', () => {
  let keys: TestKeys;
  beforeAll(async () => {
    keys = await sharedRsa();
  });

  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    ['garbage', () => ({ AUTH_PUBLIC_KEYS: 'not a key' }), /neither a JWKS JSON document nor PEM/],
    ['malformed JSON', () => ({ AUTH_PUBLIC_KEYS: '{"keys": [' }), /not valid JSON/],
    ['"keys" not an array', () => ({ AUTH_PUBLIC_KEYS: '{"keys": "abc"}' }), /must be an array/],
    ['an empty key set', () => ({ AUTH_PUBLIC_KEYS: '{"keys": []}' }), /empty/],
    [
      'a private key',
      () => ({ AUTH_PUBLIC_KEYS: JSON.stringify({ keys: [keys.privateJwk] }) }),
      /public keys only/,
    ],
    [
      'a symmetric key',
      () => ({ AUTH_PUBLIC_KEYS: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }) }),
      /symmetric/,
    ],
    [
      'an RSA JWK without its modulus',
      () => ({ AUTH_PUBLIC_KEYS: JSON.stringify({ kty: 'RSA', e: 'AQAB', kid: 'broken' }) }),
      /kid broken\) is not a valid key/,
    ],
    [
      'a corrupt PEM block',
      () => ({ AUTH_PUBLIC_KEYS: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }),
      /PEM block 0 is not a valid public key/,
    ],
    [
      'HS256 in the allow-list',
      () => ({ AUTH_PUBLIC_KEYS: keys.jwks, AUTH_ALGORITHMS: 'RS256,HS256' }),
      /HS256/,
    ],
    ['none in the allow-list', () => ({ AUTH_PUBLIC_KEYS: keys.jwks, AUTH_ALGORITHMS: 'none' }), /none/],
    ['a JWKS URL that is not a URL', () => ({ AUTH_JWKS_URL: 'jwks.json' }), /auth\.jwksUrl/],
  ];

  it.each(cases)('rejects %s', async (_name, env, problem) => {
    const error = await makeService(env()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(78);
    expect((error as ConfigError).problems.join('\n')).toMatch(problem);
  });
});
