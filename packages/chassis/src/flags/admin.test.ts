import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.js';
import type { Service } from '../service.js';
import type { LogCapture } from '../testing/index.js';
import { flagsConfigProblems, parseFlagOverrides } from './config.js';
import { flagsSchema } from './schema.js';
import { adminToken, metricValue, startTestService, testKeys } from './test-helpers.js';

describe('flags admin API', () => {
  let service: Service;
  let logs: LogCapture;
  let token: string;

  beforeAll(async () => {
    ({ service, logs } = await startTestService({
      FLAGS_OVERRIDES: '{"alf.drop.debug": 10000}',
    }));
    service.flags.define('search.new_ranker', {
      default: false,
      description: 'the new ranker',
      owner: 'search',
    });
    token = await adminToken('alice');
  });
  afterAll(() => service.stop());

  const put = (name: string, body: unknown, auth = token) =>
    service.app.inject({
      method: 'PUT',
      url: `/admin/flags/${name}`,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  const get = (url: string, auth = token) =>
    service.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${auth}` } });

  it('needs a token with the admin scope', async () => {
    expect((await service.app.inject({ method: 'GET', url: '/admin/flags' })).statusCode).toBe(401);
    const reader = await (await testKeys()).mint({ subject: 'bob', scopes: ['read'] });
    expect((await get('/admin/flags', reader)).statusCode).toBe(403);
    expect((await put('x.flag', { value: 1 }, reader)).statusCode).toBe(403);
  });

  it('changes a flag, answers the new state and audit-logs who did it', async () => {
    const response = await put('search.new_ranker', {
      value: 2500,
      description: 'rank v2',
      owner: 'search-team',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      name: 'search.new_ranker',
      value: 2500,
      percent: '25%',
      source: 'store',
      store_value: 2500,
      default: 0,
      description: 'rank v2',
      owner: 'search-team',
      updated_by: 'alice',
      previous: null,
    });
    expect(service.flags.value('search.new_ranker')).toBe(2500);
    const audit = logs.find('flag changed').at(-1);
    expect(audit).toMatchObject({
      level: 'warn',
      flag: 'search.new_ranker',
      value: 2500,
      previous: null,
      by: 'alice',
    });
    const again = await put('search.new_ranker', { value: 5000 });
    expect(again.json()).toMatchObject({ value: 5000, previous: 2500, description: 'rank v2' });
  });

  it('lists every flag with value, source, description, owner and update info', async () => {
    const response = await get('/admin/flags');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.store).toMatchObject({ kind: 'memory', up: true, synced: true });
    const byName = Object.fromEntries(body.flags.map((f: { name: string }) => [f.name, f]));
    expect(byName['alf.drop.debug']).toMatchObject({ value: 10_000, source: 'override', override: 10_000 });
    expect(byName['search.new_ranker']).toMatchObject({ source: 'store', owner: 'search-team' });
    expect(byName['search.new_ranker'].updated_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await get('/admin/flags/search.new_ranker')).json()).toMatchObject({
      value: 5000,
      updated_by: 'alice',
    });
  });

  it('reports an override in effect when the store is written', async () => {
    const body = (await put('alf.drop.debug', { value: 0 })).json();
    expect(body).toMatchObject({ value: 10_000, source: 'override', store_value: 0 });
    expect(service.flags.isAvailable('alf.drop.debug')).toBe(true);
  });

  it('answers 404 for an unknown flag and 400 invalid_flag_name for a bad name', async () => {
    const missing = await get('/admin/flags/no.such.flag');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'flag_not_found' });
    for (const response of [
      await get('/admin/flags/Bad%20Name'),
      await put('UPPER', { value: 1 }),
      await put('x'.repeat(129), { value: 1 }),
      await put('semi%3Bcolon', { value: 1 }),
      await put('a/b', { value: 1 }),
    ]) {
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, code: 'invalid_flag_name' });
      expect(response.json().message).toMatch(/invalid flag name/);
    }
  });

  it('accepts names of 128 characters', async () => {
    const name = `long.${'x'.repeat(123)}`;
    expect((await put(name, { value: 1 })).statusCode).toBe(200);
    expect((await get(`/admin/flags/${name}`)).json()).toMatchObject({ name, value: 1 });
  });

  it.each([
    ['value above 10000', { value: 10_001 }, '/value', 'must be <= 10000'],
    ['negative value', { value: -1 }, '/value', 'must be >= 0'],
    ['fractional value', { value: 2.5 }, '/value', 'must be integer'],
    ['string value', { value: '2500' }, '/value', 'must be integer'],
    ['percent string', { value: '25%' }, '/value', 'must be integer'],
    ['boolean value', { value: true }, '/value', 'must be integer'],
    ['null value', { value: null }, '/value', 'must be integer'],
    ['missing value', { description: 'x' }, '/value', "must have required property 'value'"],
    ['unknown field', { value: 1, enabled: true }, '/enabled', 'must NOT have additional properties'],
    ['description not a string', { value: 1, description: 5 }, '/description', 'must be string'],
    [
      'owner too long',
      { value: 1, owner: 'o'.repeat(129) },
      '/owner',
      'must NOT have more than 128 characters',
    ],
    ['array body', [1], '', 'must be object'],
  ])('rejects %s with a 400 listing the problem', async (_what, body, path, message) => {
    const response = await put('search.new_ranker', body);
    expect(response.statusCode).toBe(400);
    const json = response.json();
    expect(json).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'validation_failed' });
    expect(json.details).toContainEqual(expect.objectContaining({ path: `body${path}`, message }));
    expect(service.flags.value('search.new_ranker')).toBe(5000);
  });

  it('deletes a flag from the store (it falls back to its default)', async () => {
    await put('temp.flag', { value: 100 });
    const response = await service.app.inject({
      method: 'DELETE',
      url: '/admin/flags/temp.flag',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ deleted: 'temp.flag', flag: null });
    const again = await service.app.inject({
      method: 'DELETE',
      url: '/admin/flags/temp.flag',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.statusCode).toBe(404);
  });

  it('exposes the flag metrics and a non-critical readiness check', async () => {
    for (let i = 0; i < 20; i++) service.flags.isAvailable('search.new_ranker', `user-${i}`);
    const text = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
    const on =
      metricValue(text, 'flag_evaluations_total', { flag: 'search.new_ranker', result: 'true' }) ?? 0;
    const off =
      metricValue(text, 'flag_evaluations_total', { flag: 'search.new_ranker', result: 'false' }) ?? 0;
    expect(on + off).toBe(20);
    expect(metricValue(text, 'flag_value', { flag: 'search.new_ranker' })).toBe(5000);
    expect(metricValue(text, 'flag_value', { flag: 'alf.drop.debug' })).toBe(10_000);
    expect(metricValue(text, 'flags_store_up')).toBe(1);
    expect(metricValue(text, 'flags_last_update_age_seconds')).toBeGreaterThanOrEqual(0);
    const readiness = await service.health.readiness();
    expect(readiness.checks.flags).toMatchObject({ status: 'pass', critical: false });
  });
});

describe('flags configuration', () => {
  const base = {
    store: 'memory' as const,
    databaseUrl: '',
    pgliteDir: '',
    file: '',
    httpUrl: '',
    httpToken: '',
    pollIntervalMs: 5000,
    overrides: '',
  };

  it('has a schema default of the memory store', () => {
    expect((flagsSchema.store as { default: unknown }).default).toBe('memory');
  });

  it('lists invalid combinations', () => {
    expect(flagsConfigProblems(base)).toEqual([]);
    expect(flagsConfigProblems({ ...base, store: 'file' })).toEqual([
      "flags.file: required when flags.store is 'file' (set FLAGS_FILE)",
    ]);
    expect(flagsConfigProblems({ ...base, store: 'http', overrides: '{"Bad":1}' })).toEqual([
      "flags.httpUrl: required when flags.store is 'http' (set FLAGS_HTTP_URL)",
      "flags.overrides: invalid flag name \"Bad\" (a-z, 0-9, '_', '.', '-')",
    ]);
    expect(flagsConfigProblems({ ...base, store: 'postgres', databaseUrl: 'mysql://x' })).toEqual([
      'flags.databaseUrl: DATABASE_URL is not a postgres:// URL',
    ]);
  });

  it('parses overrides as JSON or a comma list, in basis points, percentages or booleans', () => {
    expect(parseFlagOverrides('{"alf.drop.debug":10000,"a.b":"25%","c":false}')).toEqual({
      overrides: { 'alf.drop.debug': 10_000, 'a.b': 2500, c: 0 },
      problems: [],
    });
    expect(parseFlagOverrides('alf.drop.debug=10000, a.b=0.5%')).toEqual({
      overrides: { 'alf.drop.debug': 10_000, 'a.b': 50 },
      problems: [],
    });
    expect(parseFlagOverrides('{"x":20000}').problems[0]).toMatch(
      /flags.overrides: x: invalid flag value 20000/,
    );
    expect(parseFlagOverrides('{not json').problems[0]).toMatch(/not valid JSON/);
  });

  it('fails service start-up with a ConfigError listing the problems', async () => {
    const error = await startTestService({ FLAGS_STORE: 'http', FLAGS_OVERRIDES: '{"x": 1.5}' }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([
      "flags.httpUrl: required when flags.store is 'http' (set FLAGS_HTTP_URL)",
      expect.stringMatching(/^flags.overrides: x: invalid flag value 1.5/),
    ]);
    const fileError = await startTestService({ FLAGS_STORE: 'file' }).catch((e) => e);
    expect(fileError).toBeInstanceOf(ConfigError);
    expect(fileError.message).toContain('flags.file: required');
    const badStore = await startTestService({ FLAGS_STORE: 'redis' }).catch((e) => e);
    expect(badStore).toBeInstanceOf(ConfigError);
    expect(badStore.message).toContain('flags.store');
  });

  it('redacts the database URL and the http token in /admin/info', async () => {
    const { service } = await startTestService({
      FLAGS_HTTP_TOKEN: 'secret-token',
      DATABASE_URL: 'postgres://u:pw@db/x',
    });
    const info = await service.app.inject({
      method: 'GET',
      url: '/admin/info',
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(info.body).not.toContain('secret-token');
    expect(info.body).not.toContain('pw@db');
    await service.stop();
  });
});
