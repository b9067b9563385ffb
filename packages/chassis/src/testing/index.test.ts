import { createServer } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createService } from '../service.js';
import { createTestKeys, getFreePort, LogCapture, mintToken, startJwksServer } from './index.js';

describe('createTestKeys', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'makes %s keys whose tokens verify every way',
    async (alg) => {
      const keys = await createTestKeys(alg);
      expect(keys.alg).toBe(alg);
      expect(keys.privateJwk.d).toEqual(expect.any(String));
      expect(keys.publicJwk).toMatchObject({ kid: keys.kid, alg, use: 'sig' });
      expect(keys.publicJwk.d).toBeUndefined();
      expect(JSON.parse(keys.jwks)).toEqual({ keys: [keys.publicJwk] });
      expect(keys.publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(keys.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);

      const token = await keys.mint({ subject: 'tester', scopes: ['a', 'b'], audience: 'svc' });
      expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: keys.kid });
      const viaJwks = await jwtVerify(token, createLocalJWKSet(JSON.parse(keys.jwks)), { audience: 'svc' });
      expect(viaJwks.payload).toMatchObject({ sub: 'tester', scope: 'a b', aud: 'svc' });
      await expect(jwtVerify(token, await importSPKI(keys.publicPem, alg))).resolves.toBeDefined();
      // The private PEM signs tokens that verify under the same key
      const fromPem = await mintToken({ privateKey: keys.privatePem, kid: keys.kid, subject: 'pem' });
      await expect(jwtVerify(fromPem, createLocalJWKSet(JSON.parse(keys.jwks)))).resolves.toBeDefined();
    },
  );

  it('makes a different key pair each time', async () => {
    const [a, b] = await Promise.all([createTestKeys(), createTestKeys()]);
    expect(a.kid).not.toBe(b.kid);
    const token = await a.mint({ subject: 'x' });
    await expect(jwtVerify(token, createLocalJWKSet(JSON.parse(b.jwks)))).rejects.toThrow();
  });
});

describe('LogCapture', () => {
  it('collects JSON lines written by pino, split across chunks', () => {
    const capture = new LogCapture();
    capture.write('{"msg":"one","level":30}\n{"msg":"tw');
    capture.write('o","level":40}\n');
    capture.write('not json\n');
    expect(capture.lines).toEqual([
      { msg: 'one', level: 30 },
      { msg: 'two', level: 40 },
      { msg: 'not json', unparsed: true },
    ]);
    expect(capture.find('two')).toEqual([{ msg: 'two', level: 40 }]);
    expect(capture.find(/^t/)).toHaveLength(1);
    expect(capture.text.split('\n')).toHaveLength(3);
    capture.clear();
    expect(capture.lines).toEqual([]);
  });

  it('works as a pino destination, synchronously', () => {
    const capture = new LogCapture();
    const log = pino(capture);
    log.info({ user: 'u1' }, 'hello');
    expect(capture.find('hello')).toEqual([expect.objectContaining({ user: 'u1', msg: 'hello' })]);
  });

  it('captures the logs of a chassis service', async () => {
    const capture = new LogCapture();
    const service = await createService({
      name: 'capture-test',
      version: '1.0.0',
      configSources: { env: { LOG_LEVEL: 'info' }, argv: [] },
      logDestination: capture,
      routes: (app) => {
        app.get('/hi', async (request) => {
          request.log.info({ who: 'me' }, 'said hi');
          return 'hi';
        });
      },
    });
    try {
      await service.app.ready();
      await service.app.inject({ url: '/hi' });
      expect(capture.find('said hi')).toEqual([
        expect.objectContaining({ service: 'capture-test', who: 'me', level: 'info' }),
      ]);
      expect(capture.find('request completed')).toEqual([
        expect.objectContaining({ route: '/hi', status: 200, method: 'GET' }),
      ]);
    } finally {
      await service.stop();
    }
  });
});

describe('startJwksServer', () => {
  it('serves the public keys over HTTP, counts fetches and rotates', async () => {
    const [a, b] = await Promise.all([createTestKeys('ES256'), createTestKeys('EdDSA')]);
    const server = await startJwksServer(a);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/);
      expect(await (await fetch(server.url)).json()).toEqual({ keys: [a.publicJwk] });
      server.setKeys(a, b.publicJwk);
      expect(await (await fetch(server.url)).json()).toEqual({ keys: [a.publicJwk, b.publicJwk] });
      expect(server.fetches).toBe(2);
      expect((await fetch(new URL('/other', server.url))).status).toBe(404);
      expect(server.fetches).toBe(2);
    } finally {
      await server.close();
    }
  });
});

describe('getFreePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await getFreePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    expect((server.address() as { port: number }).port).toBe(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
