import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSplunk } from './fake-splunk.js';
import {
  cheapBackend,
  deploy,
  eventually,
  indexBody,
  startTestService,
  type TestService,
} from './helpers.js';

describe('deployments through the Splunk management API (fake Splunk)', () => {
  let t: TestService;
  let fake: FakeSplunk;
  let token: string;

  beforeAll(async () => {
    fake = await new FakeSplunk('s3cr3t-splunk-token').start();
    t = await startTestService({
      backend: cheapBackend(),
      clusters: {
        rest: { clustered: false, target: { type: 'splunk-rest', url: fake.url } },
        rest_no_token: { clustered: false, target: { type: 'splunk-rest', url: fake.url } },
      },
      env: { SPLUNK_TOKENS: JSON.stringify({ rest: 's3cr3t-splunk-token' }), DEPLOY_TIMEOUT_MS: '5000' },
    });
    token = await t.token({ subject: 'deployer', team: 'payments' });
    for (const name of ['rest_a', 'rest_b'])
      await t.request('POST', '/v1/indexes', {
        token,
        body: indexBody(name, { cluster: 'rest', description: name }),
      });
    await t.request('PUT', '/v1/roles/rest_ro', {
      token,
      body: { indexesAllowed: ['rest_a'], groups: ['grp'] },
    });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('pushes stanzas through configs/conf-* and calls the reload endpoints', async () => {
    const done = await deploy(t, token, 'rest');
    expect(done.status, done.error).toBe('succeeded');
    expect(done.target).toBe(`splunk-rest ${fake.url} app fleet_indexes`);
    expect(fake.calls.every((c) => c.authorization === 'Bearer s3cr3t-splunk-token')).toBe(true);
    expect(fake.calls.every((c) => c.query.output_mode === 'json')).toBe(true);
    expect([...fake.stanzas('indexes').keys()]).toEqual(['rest_a', 'rest_b']);
    expect(fake.stanzas('indexes').get('rest_a')).toEqual({
      homePath: '$SPLUNK_DB/rest_a/db',
      coldPath: '$SPLUNK_DB/rest_a/colddb',
      thawedPath: '$SPLUNK_DB/rest_a/thaweddb',
      datatype: 'event',
      frozenTimePeriodInSecs: '2592000',
      maxTotalDataSizeMB: '1024',
    });
    expect(fake.stanzas('authorize').get('role_rest_ro')).toEqual({ srchIndexesAllowed: 'rest_a' });
    expect(fake.stanzas('authentication').get('roleMap_corp_ldap')).toEqual({ rest_ro: 'grp' });
    const creates = fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/configs/conf-indexes'));
    expect(creates.map((c) => c.params.name)).toEqual(['rest_a', 'rest_b']);
    expect(creates[0]!.path).toBe('/servicesNS/nobody/fleet_indexes/configs/conf-indexes');
    expect(fake.calls.filter((c) => c.path.endsWith('/_reload')).map((c) => c.path)).toEqual([
      '/services/data/indexes/_reload',
      '/services/authorization/roles/_reload',
      '/services/admin/auth-services/_reload',
    ]);
    // The token never shows in logs or records
    expect(t.logs.text).not.toContain('s3cr3t-splunk-token');
    expect(JSON.stringify(done)).not.toContain('s3cr3t-splunk-token');
  });

  it('updates changed stanzas, clears removed keys and deletes removed stanzas', async () => {
    fake.calls.length = 0;
    await t.request('DELETE', '/v1/indexes/rest_b', { token });
    await t.request('PUT', '/v1/roles/rest_ro', {
      token,
      body: { indexesAllowed: ['rest_a'], defaultIndexes: ['rest_a'] },
    });
    await t.request('PUT', '/v1/roles/rest_new', { token, body: { indexesAllowed: ['rest_a'] } });
    const done = await deploy(t, token, 'rest');
    expect(done.status, done.error).toBe('succeeded');
    expect(fake.stanzas('indexes').get('rest_b')!.disabled).toBe('true');
    expect(fake.stanzas('authorize').get('role_rest_ro')).toEqual({
      srchIndexesAllowed: 'rest_a',
      srchIndexesDefault: 'rest_a',
    });
    expect(fake.stanzas('authorize').has('role_rest_new')).toBe(true);
    // rest_ro lost its only group: the roleMap stanza is gone from the rendered file, so deleted
    expect(fake.stanzas('authentication').has('roleMap_corp_ldap')).toBe(false);
    expect(
      fake.calls.some(
        (c) => c.method === 'DELETE' && c.path.endsWith('/conf-authentication/roleMap_corp_ldap'),
      ),
    ).toBe(true);
  });

  it('restores the previous stanzas and reloads again when a reload fails', async () => {
    const before = {
      indexes: structuredClone([...fake.stanzas('indexes')]),
      authorize: structuredClone([...fake.stanzas('authorize')]),
    };
    await t.request('PATCH', '/v1/indexes/rest_a', { token, body: { maxTotalDataSizeMB: 999 } });
    await t.request('DELETE', '/v1/roles/rest_new', { token });
    fake.failOn('/services/data/indexes/_reload', 500, { times: 1 });
    fake.calls.length = 0;
    const done = await deploy(t, token, 'rest');
    expect(done.status).toBe('rolled_back');
    expect(done.error).toContain('/services/data/indexes/_reload answered 500: injected failure');
    expect(done.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'render:succeeded',
      'write:succeeded',
      'reload:failed',
      'rollback:succeeded',
      'reload-previous:succeeded',
    ]);
    expect([...fake.stanzas('indexes')]).toEqual(before.indexes);
    expect([...fake.stanzas('authorize')]).toEqual(before.authorize);
    expect(fake.stanzas('indexes').get('rest_a')!.maxTotalDataSizeMB).toBe('1024');
    // With the failure gone, the same change deploys
    const retry = await deploy(t, token, 'rest');
    expect(retry.status).toBe('succeeded');
    expect(fake.stanzas('indexes').get('rest_a')!.maxTotalDataSizeMB).toBe('999');
    expect(fake.stanzas('authorize').has('role_rest_new')).toBe(false);
  });

  it('fails without calling Splunk when no token is configured for the cluster', async () => {
    fake.calls.length = 0;
    const done = await deploy(t, token, 'rest_no_token');
    expect(done.status).toBe('failed');
    expect(done.error).toContain("no Splunk token for cluster 'rest_no_token'");
    expect(fake.calls).toEqual([]);
  });

  it('reports a failed deployment, and a failed rollback, when Splunk keeps refusing', async () => {
    fake.failOn(/conf-authorize/, 401);
    await t.request('PATCH', '/v1/indexes/rest_a', { token, body: { maxTotalDataSizeMB: 1000 } });
    const done = await deploy(t, token, 'rest');
    fake.clearFailures();
    expect(done.status).toBe('failed');
    expect(done.steps.find((s: { name: string }) => s.name === 'write').status).toBe('failed');
    expect(done.error).toMatch(/answered 401.*rollback failed/);
  });
});

describe('automatic deployment after changes', () => {
  let t: TestService;

  beforeAll(async () => {
    t = await startTestService({
      backend: cheapBackend(),
      env: { AUTO_DEPLOY: 'true', AUTO_DEPLOY_DEBOUNCE_MS: '150' },
    });
  });
  afterAll(() => t?.close());

  it('deploys once per burst of changes, debounced', async () => {
    const token = await t.token({ team: 'payments' });
    for (const name of ['auto_a', 'auto_b', 'auto_c'])
      expect((await t.request('POST', '/v1/indexes', { token, body: indexBody(name) })).status).toBe(201);
    const deployments = await eventually(async () => {
      const res = await t.request('GET', '/v1/deployments?cluster=east&status=succeeded', { token });
      return res.body.items.length > 0 && res.body.items;
    });
    await new Promise((r) => setTimeout(r, 400));
    const all = await t.request('GET', '/v1/deployments?cluster=east', { token });
    expect(all.body.items).toHaveLength(1);
    expect(deployments[0].requestedBy).toBe('system:auto-deploy');
    const content = readFileSync(
      join(t.dir, 'east', 'manager-apps', 'fleet_indexes', 'local', 'indexes.conf'),
      'utf8',
    );
    expect(content).toContain('[auto_c]');
  });
});
