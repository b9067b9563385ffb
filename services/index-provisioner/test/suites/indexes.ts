import { beforeAll, describe, expect, it } from 'vitest';
import { indexBody, type TestService } from '../helpers.js';

export function indexSuite(service: () => TestService): void {
  describe('indexes API', () => {
    let t: TestService;
    let token: string;

    beforeAll(async () => {
      t = service();
      token = await t.token({ subject: 'alice', team: 'payments' });
    });

    it('creates, reads, lists, changes and deletes an index, auditing each change', async () => {
      const created = await t.request('POST', '/v1/indexes', {
        token,
        body: indexBody('checkout_logs', { description: 'Checkout service logs' }),
        headers: { 'x-request-id': 'req-create-1' },
      });
      expect(created.status).toBe(201);
      expect(created.headers.location).toBe('/v1/indexes/checkout_logs');
      expect(created.body).toMatchObject({
        name: 'checkout_logs',
        datatype: 'event',
        retention: { frozenTimePeriodInSecs: 30 * 86400, days: 30 },
        maxTotalDataSizeMB: 1024,
        owner: 'payments',
        cluster: 'east',
        description: 'Checkout service logs',
        disabled: false,
        createdBy: 'alice',
      });

      const got = await t.request('GET', '/v1/indexes/checkout_logs', { token });
      expect(got.status).toBe(200);
      expect(got.body).toEqual(created.body);

      const patched = await t.request('PATCH', '/v1/indexes/checkout_logs', {
        token,
        body: {
          retention: { frozenTimePeriodInSecs: 7200 },
          maxTotalDataSizeMB: 2048,
          description: 'changed',
        },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        retention: { frozenTimePeriodInSecs: 7200 },
        maxTotalDataSizeMB: 2048,
        description: 'changed',
      });

      const deleted = await t.request('DELETE', '/v1/indexes/checkout_logs', { token });
      expect(deleted.status).toBe(200);
      expect(deleted.body.disabled).toBe(true);
      // Deleting again changes nothing; the name stays taken; a deleted index cannot be changed
      expect((await t.request('DELETE', '/v1/indexes/checkout_logs', { token })).status).toBe(200);
      const again = await t.request('POST', '/v1/indexes', { token, body: indexBody('checkout_logs') });
      expect(again.status).toBe(409);
      const patchDeleted = await t.request('PATCH', '/v1/indexes/checkout_logs', {
        token,
        body: { description: 'x' },
      });
      expect(patchDeleted.status).toBe(409);
      expect(patchDeleted.body.code).toBe('index_disabled');

      const audit = await t.request('GET', '/v1/audit?resourceType=index&resourceName=checkout_logs', {
        token,
      });
      expect(audit.status).toBe(200);
      expect(audit.body.items.map((a: { action: string }) => a.action)).toEqual([
        'index.delete',
        'index.update',
        'index.create',
      ]);
      const [del, upd, crt] = audit.body.items;
      expect(crt).toMatchObject({ actor: 'alice', cluster: 'east', before: null, requestId: 'req-create-1' });
      expect(crt.after).toMatchObject({ name: 'checkout_logs', maxTotalDataSizeMB: 1024 });
      expect(upd.before).toMatchObject({ maxTotalDataSizeMB: 1024, description: 'Checkout service logs' });
      expect(upd.after).toMatchObject({ maxTotalDataSizeMB: 2048, description: 'changed' });
      expect(del.before.disabled).toBe(false);
      expect(del.after.disabled).toBe(true);
      expect(new Date(crt.at).getTime()).toBeLessThanOrEqual(new Date(del.at).getTime());
    });

    it('rejects invalid bodies with the field named', async () => {
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [indexBody('Upper'), 400, 'body/name'],
        [indexBody('_internal_like'), 400, 'body/name'],
        [indexBody('-dash'), 400, 'body/name'],
        [indexBody('a'.repeat(81)), 400, 'body/name'],
        [indexBody('kvstore'), 422, 'name'],
        [indexBody('ok1', { datatype: 'trace' }), 400, 'body/datatype'],
        [indexBody('ok2', { retention: { days: 0 } }), 400, 'body/retention/days'],
        [indexBody('ok3', { retention: { days: 1, frozenTimePeriodInSecs: 7200 } }), 400, 'body/retention'],
        [indexBody('ok4', { retention: { weeks: 1 } }), 400, 'body/retention/weeks'],
        [indexBody('ok5', { maxTotalDataSizeMB: 0 }), 400, 'body/maxTotalDataSizeMB'],
        [indexBody('ok6', { maxTotalDataSizeMB: 10 ** 12 }), 400, 'body/maxTotalDataSizeMB'],
        [indexBody('ok7', { unexpected: true }), 400, 'body/unexpected'],
        [indexBody('ok8', { cluster: 'nowhere' }), 422, 'cluster'],
        [indexBody('ok9', { description: 'two\nlines' }), 400, 'body/description'],
      ];
      for (const [body, status, field] of cases) {
        const res = await t.request('POST', '/v1/indexes', { token, body });
        expect(res.status, JSON.stringify(body)).toBe(status);
        if (status === 400) {
          expect(res.body.code).toBe('validation_failed');
          const paths: string[] = res.body.details.map((d: { path: string }) => d.path);
          expect(paths.some((p) => p === field || p.startsWith(`${field}/`))).toBe(true);
        } else {
          expect(res.body).toMatchObject({ statusCode: status, field });
          expect(typeof res.body.code).toBe('string');
        }
      }
      const none = await t.request('GET', '/v1/indexes?limit=500', { token });
      expect(none.body.items.map((i: { name: string }) => i.name)).not.toContain('ok1');
      expect((await t.request('PATCH', '/v1/indexes/nope', { token, body: {} })).status).toBe(400);
      expect((await t.request('GET', '/v1/indexes/nope', { token })).body).toMatchObject({
        statusCode: 404,
        code: 'index_not_found',
        field: 'name',
      });
    });

    it('filters and paginates', async () => {
      for (const [name, extra] of [
        ['page_a', { cluster: 'west' }],
        ['page_b', { datatype: 'metric' }],
        ['page_c', {}],
        ['page_d', { cluster: 'west', datatype: 'metric' }],
        ['page_e', {}],
      ] as const)
        expect((await t.request('POST', '/v1/indexes', { token, body: indexBody(name, extra) })).status).toBe(
          201,
        );
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/v1/indexes?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await t.request('GET', url, { token });
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        names.push(...res.body.items.map((i: { name: string }) => i.name));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(names.filter((n) => n.startsWith('page_'))).toEqual([
        'page_a',
        'page_b',
        'page_c',
        'page_d',
        'page_e',
      ]);
      expect(names).toEqual([...names].sort());

      const west = await t.request('GET', '/v1/indexes?cluster=west', { token });
      expect(west.body.items.map((i: { name: string }) => i.name)).toEqual(['page_a', 'page_d']);
      const metricsWest = await t.request('GET', '/v1/indexes?cluster=west&datatype=metric', { token });
      expect(metricsWest.body.items.map((i: { name: string }) => i.name)).toEqual(['page_d']);
      const owned = await t.request('GET', '/v1/indexes?owner=nobody', { token });
      expect(owned.body).toEqual({ items: [], nextCursor: null });
      const bad = await t.request('GET', '/v1/indexes?cursor=garbage', { token });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: 'invalid_cursor', field: 'cursor' });
      expect((await t.request('GET', '/v1/indexes?limit=0', { token })).status).toBe(400);
      expect((await t.request('GET', '/v1/indexes?color=red', { token })).status).toBe(400);
    });

    it('replays a retried create with the same Idempotency-Key', async () => {
      const headers = { 'idempotency-key': 'create-retry-1' };
      const first = await t.request('POST', '/v1/indexes', { token, body: indexBody('retry_me'), headers });
      const second = await t.request('POST', '/v1/indexes', { token, body: indexBody('retry_me'), headers });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      // Without the key, the retry is a conflict; with the key but another body, a misuse
      expect((await t.request('POST', '/v1/indexes', { token, body: indexBody('retry_me') })).status).toBe(
        409,
      );
      const reused = await t.request('POST', '/v1/indexes', {
        token,
        body: indexBody('retry_other'),
        headers,
      });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
      const audit = await t.request('GET', '/v1/audit?resourceName=retry_me', { token });
      expect(audit.body.items).toHaveLength(1);
    });

    it('lets exactly one of many concurrent creates of a name win', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.request('POST', '/v1/indexes', {
            token,
            body: indexBody('race_me', { description: `attempt ${i}` }),
          }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      for (const r of results.filter((r) => r.status === 409))
        expect(r.body).toMatchObject({ code: 'index_exists', field: 'name' });
      const audit = await t.request('GET', '/v1/audit?resourceName=race_me', { token });
      expect(audit.body.items).toHaveLength(1);
    });

    it('accepts retention in seconds and an admin creating for any team', async () => {
      const admin = await t.token({ subject: 'root', team: [], admin: true });
      const res = await t.request('POST', '/v1/indexes', {
        token: admin,
        body: indexBody('metrics_ops', {
          owner: 'ops',
          datatype: 'metric',
          retention: { frozenTimePeriodInSecs: 86400 * 3 + 1 },
        }),
      });
      expect(res.status).toBe(201);
      expect(res.body.retention.frozenTimePeriodInSecs).toBe(86400 * 3 + 1);
      expect(res.body.owner).toBe('ops');
    });
  });
}
