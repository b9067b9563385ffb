// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the secret reference syntax under test
// The admin API: scopes, validation (400 with machine-readable details), CRUD, run now.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '@fleet/chassis/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinPlugins } from '../src/plugins/index.js';
import { cheapBackend, MemorySink, openTestDb, startRunner, type TestRunner, waitFor } from './helpers.js';
import { counterPlugin } from './test-plugins.js';

let r: TestRunner;
let db: Db;
const sink = new MemorySink();
const secretDir = mkdtempSync(join(tmpdir(), 'plugin-runner-api-'));
writeFileSync(join(secretDir, 'gh-token'), 'ghp_from_file\n');

beforeAll(async () => {
  db = await openTestDb(cheapBackend());
  r = await startRunner({
    db,
    sink,
    plugins: [...builtinPlugins, counterPlugin],
    secretsEnv: { PLUGIN_SECRET_SLACK: 'xoxp-secret', HOME_SECRET: 'nope' },
    env: {
      PLUGIN_SECRET_FILE_DIRS: secretDir,
      PLUGIN_RUNNER_MIN_INTERVAL_MS: '1000',
      PLUGIN_INSTANCES: JSON.stringify([
        { id: 'from-config', plugin: 'counter', schedule: '1h', config: { total: 0 } },
      ]),
    },
  });
});
afterAll(async () => {
  await r.stop();
  await db.close();
});

const github = {
  id: 'gh-acme',
  plugin: 'github',
  schedule: { every: '5m' },
  config: { org: 'acme', token_FILE: '' },
};

describe('admin API', () => {
  it('requires a token with plugins:read / plugins:write', async () => {
    expect((await r.request('GET', '/v1/instances', { token: null })).status).toBe(401);
    const readOnly = await r.token(['plugins:read']);
    expect((await r.request('GET', '/v1/instances', { token: readOnly })).status).toBe(200);
    const res = await r.request('POST', '/v1/instances', { token: readOnly, body: { ...github, id: 'x' } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'insufficient_scope', missing: { scopes: ['plugins:write'] } });
    expect((await r.request('POST', '/v1/instances/from-config/run', { token: readOnly })).status).toBe(403);
  });

  it('request shape errors: 400 validation_failed with each path', async () => {
    const res = await r.request('POST', '/v1/instances', {
      body: { plugin: 'github', schedule: '5m', colour: 'red', id: 'Not Valid' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['body/colour', 'body/id']);
    const missing = await r.request('POST', '/v1/instances', { body: { plugin: 'github' } });
    expect(missing.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'body/id',
      'body/schedule',
    ]);
    expect((await r.request('PATCH', '/v1/instances/x', { body: {} })).body.code).toBe('validation_failed');
    expect(
      (await r.request('PATCH', '/v1/instances/x', { body: { plugin: 'slack' } })).body.details[0].path,
    ).toBe('body/plugin');
    expect((await r.request('GET', '/v1/instances/NOT_VALID')).body.code).toBe('validation_failed');
  });

  it('meaning errors: 400 invalid_instance listing config, schedule and plugin problems', async () => {
    const res = await r.request('POST', '/v1/instances', {
      body: {
        id: 'bad',
        plugin: 'jenkins',
        schedule: { cron: '61 * * * *' },
        config: { baseUrl: 'not a url', jobs: [], extra: 1 },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'invalid_instance' });
    expect(res.body.details).toEqual([
      { path: '/schedule', message: expect.stringContaining("schedule.cron '61 * * * *'") },
      { path: '/config/baseUrl', message: 'must be an http(s) URL' },
      { path: '/config/jobs', message: 'must have at least 1 item(s)' },
      { path: '/config/extra', message: 'is not allowed (unknown property)' },
    ]);
    const plugin = await r.request('POST', '/v1/instances', {
      body: { id: 'bad', plugin: 'nope', schedule: '5m' },
    });
    expect(plugin.body.details).toEqual([
      { path: '/plugin', message: expect.stringContaining('github, slack, jenkins, http-json') },
    ]);
    const often = await r.request('POST', '/v1/instances', {
      body: { id: 'bad', plugin: 'counter', schedule: '10ms' },
    });
    expect(often.body.details).toEqual([
      { path: '/schedule', message: 'schedule.every must be at least 1000 ms' },
    ]);
    const secret = await r.request('POST', '/v1/instances', {
      body: { id: 'bad', plugin: 'slack', schedule: '5m', config: { token: '${HOME_SECRET}' } },
    });
    expect(secret.body.details).toEqual([
      {
        path: '/config/token',
        message: expect.stringContaining('only variables starting with PLUGIN_SECRET_'),
      },
    ]);
    const file = await r.request('POST', '/v1/instances', {
      body: { id: 'bad', plugin: 'slack', schedule: '5m', config: { token_FILE: '/etc/passwd' } },
    });
    expect(file.body.details[0]).toMatchObject({ path: '/config/token_FILE' });
  });

  it('create, read, patch, delete; secrets stay references or are redacted', async () => {
    const ghBody = {
      ...github,
      config: { org: 'acme', token_FILE: join(secretDir, 'gh-token') },
      description: 'acme audit log',
      enabled: false,
    };
    const created = await r.request('POST', '/v1/instances', { body: ghBody });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/v1/instances/gh-acme');
    expect(created.body).toMatchObject({
      id: 'gh-acme',
      plugin: 'github',
      source: 'api',
      enabled: false,
      created_by: 'tester',
      schedule: { every: '5m' },
      schedule_text: 'every 5m',
      config: { org: 'acme', token_FILE: join(secretDir, 'gh-token') },
      status: {
        cursor: null,
        running: false,
        lease: null,
        circuit: { state: 'closed' },
        last_run: null,
        errors: [],
      },
    });
    const again = await r.request('POST', '/v1/instances', { body: ghBody });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('instance_exists');

    const slack = await r.request('POST', '/v1/instances', {
      body: {
        id: 'slack-grid',
        plugin: 'slack',
        schedule: { cron: '*/5 * * * *', timezone: 'UTC' },
        config: { token: 'xoxp-literal' },
        enabled: false,
      },
    });
    expect(slack.status).toBe(201);
    expect(slack.body.config.token).toBe('[REDACTED]');

    const list = await r.request('GET', '/v1/instances?plugin=slack');
    expect(list.body.instances.map((i: { id: string }) => i.id)).toEqual(['slack-grid']);

    const patched = await r.request('PATCH', '/v1/instances/slack-grid', {
      body: { config: { token: '${PLUGIN_SECRET_SLACK}', limit: 50 }, version: 1 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      version: 2,
      config: { token: '${PLUGIN_SECRET_SLACK}', limit: 50 },
    });
    const removeKey = await r.request('PATCH', '/v1/instances/slack-grid', {
      body: { config: { limit: null } },
    });
    expect(removeKey.body.config).toEqual({ token: '${PLUGIN_SECRET_SLACK}' });
    const stale = await r.request('PATCH', '/v1/instances/slack-grid', {
      body: { description: 'x', version: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('version_conflict');
    const invalid = await r.request('PATCH', '/v1/instances/slack-grid', {
      body: { config: { limit: 0 }, schedule: 'whenever' },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.details.map((d: { path: string }) => d.path)).toEqual(['/config/limit', '/schedule']);

    const fromConfig = await r.request('PATCH', '/v1/instances/from-config', { body: { enabled: false } });
    expect(fromConfig.status).toBe(409);
    expect(fromConfig.body.code).toBe('managed_by_config');
    expect((await r.request('DELETE', '/v1/instances/from-config')).body.code).toBe('managed_by_config');

    expect((await r.request('DELETE', '/v1/instances/slack-grid')).status).toBe(204);
    const gone = await r.request('GET', '/v1/instances/slack-grid');
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'instance_not_found',
      message: "no instance 'slack-grid'",
    });
    expect((await r.request('DELETE', '/v1/instances/slack-grid')).status).toBe(404);
  });

  it('run now: 202, the run happens; a disabled instance is refused', async () => {
    const created = await r.request('POST', '/v1/instances', {
      body: { id: 'manual', plugin: 'counter', schedule: '1d', config: { total: 4, pageSize: 2 } },
    });
    expect(created.status).toBe(201);
    await waitFor(
      'first run',
      async () => (await r.request('GET', '/v1/instances/manual')).body.status.last_run,
    );
    expect(sink.ids().filter((k) => k.startsWith('manual:'))).toHaveLength(4);
    await r.request('PATCH', '/v1/instances/manual', { body: { config: { total: 6 } } });
    const run = await r.request('POST', '/v1/instances/manual/run');
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ id: 'manual', run_requested: true });
    await waitFor('second run', () => sink.ids().filter((k) => k.startsWith('manual:')).length === 6);
    await waitFor(
      'second run recorded',
      async () => (await r.request('GET', '/v1/instances/manual')).body.status.totals.runs === 2,
    );
    const detail = (await r.request('GET', '/v1/instances/manual')).body;
    expect(detail.status).toMatchObject({
      cursor: 6,
      cursor_seq: 3,
      totals: { runs: 2, pages: 3, events: 6 },
    });
    expect(detail.status.lag_seconds).toBeGreaterThan(0);
    expect(detail.runs).toHaveLength(2);
    expect(detail.runs[0]).toMatchObject({ outcome: 'success', events: 2, fencing_token: 2 });
    expect(detail.status.last_run).toMatchObject({
      outcome: 'success',
      pages: 1,
      events: 2,
      replica: r.handle.runner.replicaId,
    });

    await r.request('PATCH', '/v1/instances/manual', { body: { enabled: false } });
    const refused = await r.request('POST', '/v1/instances/manual/run');
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('instance_disabled');
    expect((await r.request('POST', '/v1/instances/nope/run')).status).toBe(404);
  });

  it('Idempotency-Key: a retried POST gets the first answer again', async () => {
    const body = { id: 'idem', plugin: 'counter', schedule: '1h', enabled: false };
    const headers = { 'idempotency-key': 'create-idem-1' };
    const first = await r.request('POST', '/v1/instances', { body, headers });
    const second = await r.request('POST', '/v1/instances', { body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe('idem');
  });

  it('lists the installed plugins with their config schemas', async () => {
    const res = await r.request('GET', '/v1/plugins');
    expect(res.body.plugins.map((p: { name: string }) => p.name)).toEqual([
      'github',
      'slack',
      'jenkins',
      'http-json',
      'counter',
    ]);
    expect(res.body.plugins[0]).toMatchObject({
      version: '1.0.0',
      flag: 'plugins.github.enabled',
      config_schema: { type: 'object' },
    });
  });
});
