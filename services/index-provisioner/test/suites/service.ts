import { beforeAll, describe, expect, it } from 'vitest';
import { indexBody, type TestService } from '../helpers.js';

const EXISTING_INDEXES_CONF = `
# indexes.conf maintained by hand until now
[default]
frozenTimePeriodInSecs = 7776000

[volume:hot]
path = /mnt/fast

[web_access]
# description: "Access logs of the web tier"
homePath = $SPLUNK_DB/web_access/db
coldPath = $SPLUNK_DB/web_access/colddb
thawedPath = $SPLUNK_DB/web_access/thaweddb
maxTotalDataSizeMB = 20000
repFactor = auto

[host_metrics]
datatype = metric
homePath = $SPLUNK_DB/$_index_name/db
coldPath = $SPLUNK_DB/$_index_name/colddb
thawedPath = $SPLUNK_DB/$_index_name/thaweddb
frozenTimePeriodInSecs = 2592000
maxDataSize = auto_high_volume
disabled = 1

[main]
homePath = $SPLUNK_DB/defaultdb/db
coldPath = $SPLUNK_DB/defaultdb/colddb
thawedPath = $SPLUNK_DB/defaultdb/thaweddb

[BadName]
homePath = $SPLUNK_DB/BadName/db

[moved_data]
homePath = volume:hot/moved_data/db
coldPath = $SPLUNK_DB/moved_data/colddb
thawedPath = $SPLUNK_DB/moved_data/thaweddb

[too_big]
homePath = $SPLUNK_DB/too_big/db
coldPath = $SPLUNK_DB/too_big/colddb
thawedPath = $SPLUNK_DB/too_big/thaweddb
maxTotalDataSizeMB = 999999999999
this line is junk
`;

/** Runs last: it starts the listener. The shared service has SPLUNK_TOKEN=very-secret-splunk-token. */
export function serviceSuite(service: () => TestService): void {
  describe('service', () => {
    let t: TestService;
    let token: string;

    beforeAll(async () => {
      t = service();
      token = await t.token({ subject: 'adopter', team: 'web' });
    });

    it('imports an existing indexes.conf as the starting state', async () => {
      const body = { text: EXISTING_INDEXES_CONF, cluster: 'east', owner: 'web' };
      const dry = await t.request('POST', '/v1/import', { token, body: { ...body, dryRun: true } });
      expect(dry.status).toBe(200);
      expect(dry.body.imported.map((i: { name: string }) => i.name)).toEqual(['web_access', 'host_metrics']);
      expect((await t.request('GET', '/v1/indexes?owner=web', { token })).body.items).toEqual([]);

      const res = await t.request('POST', '/v1/import', { token, body });
      expect(res.status).toBe(200);
      expect(res.body.dryRun).toBe(false);
      expect(res.body.imported).toEqual([
        expect.objectContaining({
          name: 'web_access',
          datatype: 'event',
          retention: { frozenTimePeriodInSecs: 7776000, days: 90 },
          maxTotalDataSizeMB: 20000,
          description: 'Access logs of the web tier',
          disabled: false,
          owner: 'web',
          cluster: 'east',
        }),
        expect.objectContaining({
          name: 'host_metrics',
          datatype: 'metric',
          retention: { frozenTimePeriodInSecs: 2592000, days: 30 },
          maxTotalDataSizeMB: 500000,
          disabled: true,
        }),
      ]);
      expect(res.body.skipped.map((s: { name: string; code: string }) => [s.name, s.code])).toEqual([
        ['main', 'reserved_name'],
        ['BadName', 'invalid_name'],
        ['moved_data', 'custom_paths'],
        ['too_big', 'out_of_range'],
      ]);
      expect(res.body.warnings.map((w: { message: string }) => w.message)).toEqual([
        expect.stringContaining('not a comment'),
        expect.stringContaining(
          "index 'host_metrics': settings the service does not render will be dropped: maxDataSize",
        ),
      ]);

      // The rendered file reproduces what was imported
      const render = await t.request('GET', '/v1/render?cluster=east', { token });
      const indexesConf = render.body.files[0].content as string;
      expect(indexesConf).toContain(
        '[web_access]\n# description: "Access logs of the web tier"\nhomePath = $SPLUNK_DB/web_access/db',
      );
      expect(indexesConf).toContain('[host_metrics]\nhomePath = $SPLUNK_DB/host_metrics/db');

      // Importing again skips what is already managed; every import is audited
      const again = await t.request('POST', '/v1/import', { token, body });
      expect(again.body.imported).toEqual([]);
      expect(again.body.skipped.filter((s: { code: string }) => s.code === 'index_exists')).toHaveLength(2);
      const audit = await t.request('GET', '/v1/audit?action=index.import', { token });
      expect(audit.body.items.map((a: { resourceName: string }) => a.resourceName).sort()).toEqual([
        'host_metrics',
        'web_access',
      ]);
    });

    it('pages and filters the audit log', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/v1/audit?action=index.import&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await t.request('GET', url, { token });
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(1);
        seen.push(...page.body.items.map((a: { resourceName: string }) => a.resourceName));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(['host_metrics', 'web_access']);
      const future = await t.request('GET', '/v1/audit?since=2999-01-01T00:00:00Z', { token });
      expect(future.body.items).toEqual([]);
      const past = await t.request('GET', '/v1/audit?until=2000-01-01T00:00:00Z', { token });
      expect(past.body.items).toEqual([]);
      const byActor = await t.request('GET', '/v1/audit?actor=adopter&resourceType=index', { token });
      expect(byActor.body.items.every((a: { actor: string }) => a.actor === 'adopter')).toBe(true);
      expect((await t.request('GET', '/v1/audit?since=yesterday', { token })).status).toBe(400);
      const badCursor = await t.request(
        'GET',
        `/v1/audit?cursor=${Buffer.from('{"k":"x"}').toString('base64url')}`,
        {
          token,
        },
      );
      expect(badCursor.body).toMatchObject({ statusCode: 400, code: 'invalid_cursor', field: 'cursor' });
    });

    it('serves an OpenAPI document built from the route schemas', async () => {
      const res = await t.request('GET', '/docs/openapi.json');
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(doc.openapi).toBe('3.1.0');
      const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      );
      expect(operations.sort()).toEqual(
        [
          'POST /v1/indexes',
          'GET /v1/indexes',
          'GET /v1/indexes/{name}',
          'PATCH /v1/indexes/{name}',
          'DELETE /v1/indexes/{name}',
          'PUT /v1/roles/{name}',
          'GET /v1/roles',
          'GET /v1/roles/{name}',
          'DELETE /v1/roles/{name}',
          'GET /v1/audit',
          'GET /v1/render',
          'POST /v1/import',
          'POST /v1/deployments',
          'GET /v1/deployments',
          'GET /v1/deployments/{id}',
        ].sort(),
      );
      const create = doc.paths['/v1/indexes'].post;
      expect(create.summary).toBe('Create an index');
      expect(create.security).toEqual([{ bearerAuth: ['indexes:write'] }]);
      expect(create.requestBody.content['application/json'].schema.required).toEqual(
        expect.arrayContaining(['name', 'datatype', 'retention', 'maxTotalDataSizeMB', 'owner', 'cluster']),
      );
      expect(create.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
      expect(create.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]);
      expect(Object.keys(create.responses).sort()).toEqual(['201', '400', '401', '403', '409', '422']);
      expect(doc.paths['/v1/indexes'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
        'cluster',
        'owner',
        'datatype',
        'disabled',
        'limit',
        'cursor',
      ]);
      expect(doc.paths['/v1/indexes/{name}'].get.parameters[0]).toMatchObject({
        name: 'name',
        in: 'path',
        required: true,
      });
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      // Every operation id is unique
      const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
        (ops) => Object.values(ops).map((o) => o.operationId),
      );
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('reports the database in readiness, and keeps secrets out of /admin/info', async () => {
      const ready = await t.request('GET', '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.checks.database).toMatchObject({ status: 'pass', critical: true });
      const admin = await t.token({ admin: true });
      const info = await t.request('GET', '/admin/info', { token: admin });
      expect(info.status).toBe(200);
      expect(JSON.stringify(info.body)).not.toContain('very-secret-splunk-token');
      expect(JSON.stringify(t.logs.lines)).not.toContain('very-secret-splunk-token');
    });

    it('works over a real socket', async () => {
      const { url } = await t.service.start();
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const created = await fetch(`${url}/v1/indexes`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': 'socket-1' },
        body: JSON.stringify(indexBody('over_socket', { owner: 'web' })),
      });
      expect(created.status).toBe(201);
      const replay = await fetch(`${url}/v1/indexes`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': 'socket-1' },
        body: JSON.stringify(indexBody('over_socket', { owner: 'web' })),
      });
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const got = await fetch(`${url}/v1/indexes/over_socket`, { headers });
      expect(((await got.json()) as { owner: string }).owner).toBe('web');
      const anonymous = await fetch(`${url}/v1/indexes`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });
  });
}
