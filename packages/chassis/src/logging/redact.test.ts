import { describe, expect, it } from 'vitest';
import { isSecretKey, REDACTED, redactSecrets } from './redact.js';

describe('isSecretKey', () => {
  it.each([
    'authorization',
    'Authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'password',
    'passwd',
    'secret',
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'apiKey',
    'api_key',
    'api-key',
    'client_secret',
    'private_key',
    'GITHUB_TOKEN',
    'DB_PASSWORD',
    'STRIPE_SECRET',
    'x-api-key',
    'session-token',
    'SIGNING_PRIVATE_KEY',
  ])('%s is secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each([
    'user',
    'route',
    'status',
    'method',
    'trace_id',
    'tokens_used',
    'token_count',
    'secretary',
    'passwordless',
    'cookies_enabled',
  ])('%s is not secret', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });

  it('gives the same verdict when asked again (cached)', () => {
    for (let i = 0; i < 3; i++) {
      expect(isSecretKey('MY_API_TOKEN')).toBe(true);
      expect(isSecretKey('my_api_tokenizer')).toBe(false);
    }
  });
});

describe('redactSecrets', () => {
  it('returns primitives and objects without secrets unchanged (same reference)', () => {
    expect(redactSecrets('a')).toBe('a');
    expect(redactSecrets(3)).toBe(3);
    expect(redactSecrets(null)).toBe(null);
    const flat = { method: 'GET', route: '/x', status: 200, nested: { a: [1, { b: 2 }] } };
    expect(redactSecrets(flat)).toBe(flat);
  });

  it('replaces secret-named keys at any depth without mutating the input', () => {
    const input = {
      user: 'u1',
      password: 'hunter2',
      headers: { authorization: 'Bearer abc', cookie: 'sid=1', accept: 'json' },
      env: { GITHUB_TOKEN: 'ghp_x', AWS_SECRET: 's3', HOME: '/root' },
      list: [{ refresh_token: 'r' }, 'plain'],
      deep: { a: { b: { c: { api_key: 'k' } } } },
    };
    const snapshot = structuredClone(input);
    const out = redactSecrets(input);
    expect(out).toEqual({
      user: 'u1',
      password: REDACTED,
      headers: { authorization: REDACTED, cookie: REDACTED, accept: 'json' },
      env: { GITHUB_TOKEN: REDACTED, AWS_SECRET: REDACTED, HOME: '/root' },
      list: [{ refresh_token: REDACTED }, 'plain'],
      deep: { a: { b: { c: { api_key: REDACTED } } } },
    });
    expect(input).toEqual(snapshot);
    // unchanged branches are shared, changed ones copied
    expect(out).not.toBe(input);
    expect(out.headers).not.toBe(input.headers);
    expect(out.list[1]).toBe('plain');
  });

  it('redacts a secret-named key whatever its value (objects included)', () => {
    expect(redactSecrets({ token: { value: 'x' } })).toEqual({ token: REDACTED });
  });

  it('leaves errors, buffers and dates alone', () => {
    const err = new Error('boom');
    const buf = Buffer.from('x');
    const date = new Date(0);
    const input = { err, buf, date };
    expect(redactSecrets(input)).toBe(input);
  });

  it('terminates on cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(() => redactSecrets(a)).not.toThrow();
  });
});
