import { createPrivateKey } from 'node:crypto';
import {
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createService } from '../service.js';
import { createTestKeys, type TestKeys } from '../testing/index.js';
import { mintToken } from './mint.js';
import { createTokenVerifier } from './verifier.js';

const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;

describe('mintToken', () => {
  const keys = {} as Record<(typeof ALGS)[number], TestKeys>;
  beforeAll(async () => {
    const made = await Promise.all(ALGS.map((alg) => createTestKeys(alg)));
    for (const k of made) keys[k.alg] = k;
  });

  it.each(ALGS)('signs %s tokens that jose and the chassis verifier accept', async (alg) => {
    const k = keys[alg];
    const token = await mintToken({
      privateKey: k.privateJwk,
      subject: 'svc-a',
      issuer: 'https://issuer.test',
      audience: 'svc-b',
      scopes: ['orders:read', 'orders:write'],
      roles: ['service'],
      claims: { team: 'payments' },
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'JWT', kid: k.kid });
    const { payload } = await jwtVerify(token, createLocalJWKSet(JSON.parse(k.jwks)), {
      algorithms: [alg],
      issuer: 'https://issuer.test',
      audience: 'svc-b',
    });
    expect(payload).toMatchObject({
      sub: 'svc-a',
      scope: 'orders:read orders:write',
      roles: ['service'],
      team: 'payments',
    });
    const verifier = await createTokenVerifier({ publicKeys: k.jwks, audience: 'svc-b' });
    const principal = await verifier.verify(token);
    expect([...principal.scopes]).toEqual(['orders:read', 'orders:write']);
    expect([...principal.roles]).toEqual(['service']);
  });

  it.each(ALGS)('infers %s from a PKCS#8 PEM and from a node KeyObject', async (alg) => {
    const k = keys[alg];
    for (const privateKey of [k.privatePem, createPrivateKey(k.privatePem)]) {
      const token = await mintToken({ privateKey, subject: 'pem' });
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      const verifier = await createTokenVerifier({ publicKeys: k.publicPem });
      await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'pem' });
    }
  });

  it('infers the algorithm from a CryptoKey', async () => {
    const k = keys.ES256;
    const { alg: _alg, ...jwkWithoutAlg } = k.privateJwk;
    const cryptoKey = await importJWK(jwkWithoutAlg, 'ES256');
    const token = await mintToken({ privateKey: cryptoKey as CryptoKey, subject: 'ck' });
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
  });

  it('reads expiresIn and notBefore numbers as seconds from now, strings as time spans', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await mintToken({
      privateKey: keys.ES256.privateJwk,
      subject: 's',
      expiresIn: 60,
      notBefore: 10,
    });
    const claims = decodeJwt(token);
    expect(claims.exp! - now).toBeGreaterThanOrEqual(59);
    expect(claims.exp! - now).toBeLessThanOrEqual(61);
    expect(claims.nbf! - now).toBeGreaterThanOrEqual(9);
    expect(claims.nbf! - now).toBeLessThanOrEqual(11);
    const span = decodeJwt(
      await mintToken({ privateKey: keys.ES256.privateJwk, subject: 's', expiresIn: '2h' }),
    );
    expect(span.exp! - span.iat!).toBe(7200);
    const defaults = decodeJwt(await mintToken({ privateKey: keys.ES256.privateJwk, subject: 's' }));
    expect(defaults.exp! - defaults.iat!).toBe(300);
    expect(defaults.nbf).toBeUndefined();
  });

  it('mints tokens a chassis service accepts for service-to-service calls', async () => {
    const k = keys.EdDSA;
    const service = await createService({
      name: 'callee',
      version: '1.0.0',
      configSources: {
        env: { LOG_LEVEL: 'silent', AUTH_PUBLIC_KEYS: k.jwks, AUTH_AUDIENCE: 'callee' },
        argv: [],
      },
      routes: (app) => {
        app.get('/whoami', { auth: { scopes: ['callee:read'] } }, async (request) => ({
          caller: request.principal?.subject,
          team: request.principal?.claims.team,
        }));
      },
    });
    try {
      await service.app.ready();
      const token = await mintToken({
        privateKey: k.privateJwk,
        subject: 'caller-service',
        audience: 'callee',
        scopes: ['callee:read'],
        claims: { team: 'search' },
      });
      const response = await service.app.inject({
        url: '/whoami',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ caller: 'caller-service', team: 'search' });
    } finally {
      await service.stop();
    }
  });
});
