import { beforeAll, describe, expect, it } from 'vitest';
import { parseConf } from '../../src/conf/parser.js';
import { indexBody, type TestService } from '../helpers.js';

export function roleSuite(service: () => TestService): void {
  describe('roles API', () => {
    let t: TestService;
    let token: string;
    let admin: string;

    beforeAll(async () => {
      t = service();
      token = await t.token({ subject: 'alice', team: 'payments' });
      admin = await t.token({ subject: 'root', team: 'platform', admin: true });
      for (const name of ['pay_api', 'pay_db'])
        expect((await t.request('POST', '/v1/indexes', { token, body: indexBody(name) })).status).toBe(201);
      const other = await t.token({ team: 'search' });
      expect(
        (
          await t.request('POST', '/v1/indexes', {
            token: other,
            body: indexBody('search_logs', { owner: 'search' }),
          })
        ).status,
      ).toBe(201);
    });

    it('creates, replaces, reads, lists and deletes a role, auditing each change', async () => {
      const created = await t.request('PUT', '/v1/roles/payments_ro', {
        token,
        body: {
          indexesAllowed: ['pay_db', 'pay_api', 'pay_api'.slice(0)],
          defaultIndexes: ['pay_api'],
          importRoles: ['user'],
          groups: ['cn=payments,ou=groups,dc=corp', 'payments-oncall'],
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(400); // duplicate items are rejected

      const ok = await t.request('PUT', '/v1/roles/payments_ro', {
        token,
        body: {
          indexesAllowed: ['pay_db', 'pay_api'],
          defaultIndexes: ['pay_api'],
          importRoles: ['user'],
          groups: ['payments-oncall', 'cn=payments,ou=groups,dc=corp'],
        },
      });
      expect(ok.status).toBe(201);
      expect(ok.headers.location).toBe('/v1/roles/payments_ro');
      expect(ok.body).toMatchObject({
        name: 'payments_ro',
        owner: 'payments',
        indexesAllowed: ['pay_api', 'pay_db'],
        defaultIndexes: ['pay_api'],
        importRoles: ['user'],
        groups: ['cn=payments,ou=groups,dc=corp', 'payments-oncall'],
        createdBy: 'alice',
      });

      const replaced = await t.request('PUT', '/v1/roles/payments_ro', {
        token,
        body: { indexesAllowed: ['pay_api'], groups: ['payments-oncall'] },
      });
      expect(replaced.status).toBe(200);
      expect(replaced.body).toMatchObject({
        indexesAllowed: ['pay_api'],
        defaultIndexes: [],
        importRoles: [],
      });
      // The same PUT again is a no-op (no audit record)
      expect(
        (
          await t.request('PUT', '/v1/roles/payments_ro', {
            token,
            body: { indexesAllowed: ['pay_api'], groups: ['payments-oncall'] },
          })
        ).status,
      ).toBe(200);

      expect((await t.request('GET', '/v1/roles/payments_ro', { token })).body).toEqual(replaced.body);
      const list = await t.request('GET', '/v1/roles?owner=payments', { token });
      expect(list.body.items.map((r: { name: string }) => r.name)).toContain('payments_ro');

      expect((await t.request('DELETE', '/v1/roles/payments_ro', { token })).status).toBe(204);
      expect((await t.request('GET', '/v1/roles/payments_ro', { token })).status).toBe(404);
      expect((await t.request('DELETE', '/v1/roles/payments_ro', { token })).status).toBe(404);

      const audit = await t.request('GET', '/v1/audit?resourceType=role&resourceName=payments_ro', { token });
      expect(audit.body.items.map((a: { action: string }) => a.action)).toEqual([
        'role.delete',
        'role.update',
        'role.create',
      ]);
      expect(audit.body.items[0]).toMatchObject({ after: null, before: { name: 'payments_ro' } });
    });

    it('checks references: defaults within allowed, known indexes, no cycles, no built-in role names', async () => {
      const cases: Array<[string, object, number, string, string]> = [
        [
          'r1',
          { indexesAllowed: ['pay_api'], defaultIndexes: ['pay_db'] },
          422,
          'default_not_allowed',
          'defaultIndexes[0]',
        ],
        ['r2', { indexesAllowed: ['no_such_index'] }, 422, 'unknown_index', 'indexesAllowed[0]'],
        ['r3', { indexesAllowed: [], importRoles: ['r3'] }, 422, 'import_cycle', 'importRoles[0]'],
        ['admin', { indexesAllowed: [] }, 422, 'reserved_name', 'name'],
        ['power', { indexesAllowed: [] }, 422, 'reserved_name', 'name'],
      ];
      for (const [name, body, status, code, field] of cases) {
        const res = await t.request('PUT', `/v1/roles/${name}`, { token, body });
        expect(res.status, name).toBe(status);
        expect(res.body).toMatchObject({ code, field });
      }
      // A cycle through two managed roles
      expect(
        (await t.request('PUT', '/v1/roles/cyc_a', { token, body: { indexesAllowed: [] } })).status,
      ).toBe(201);
      expect(
        (
          await t.request('PUT', '/v1/roles/cyc_b', {
            token,
            body: { indexesAllowed: [], importRoles: ['cyc_a'] },
          })
        ).status,
      ).toBe(201);
      const cycle = await t.request('PUT', '/v1/roles/cyc_a', {
        token,
        body: { indexesAllowed: [], importRoles: ['cyc_b'] },
      });
      expect(cycle.body).toMatchObject({ code: 'import_cycle', field: 'importRoles[0]' });
      // A role imported by another cannot be deleted
      const inUse = await t.request('DELETE', '/v1/roles/cyc_a', { token });
      expect(inUse.status).toBe(409);
      expect(inUse.body.code).toBe('role_in_use');
      // Missing required field, unknown field
      expect((await t.request('PUT', '/v1/roles/r4', { token, body: {} })).status).toBe(400);
      expect(
        (await t.request('PUT', '/v1/roles/r4', { token, body: { indexesAllowed: [], x: 1 } })).status,
      ).toBe(400);
    });

    it('lets admins grant wildcards, internal indexes and any role; teams need an owner', async () => {
      const res = await t.request('PUT', '/v1/roles/auditors', {
        token: admin,
        body: {
          owner: 'security',
          indexesAllowed: ['*', '_audit'],
          defaultIndexes: ['search_logs'],
          importRoles: ['power'],
          groups: ['Security Auditors'],
        },
      });
      expect(res.status).toBe(201);
      expect(res.body.owner).toBe('security');
      const twoTeams = await t.token({ team: ['payments', 'search'] });
      const ambiguous = await t.request('PUT', '/v1/roles/ambiguous', {
        token: twoTeams,
        body: { indexesAllowed: [] },
      });
      expect(ambiguous.status).toBe(422);
      expect(ambiguous.body).toMatchObject({ code: 'owner_required', field: 'owner' });
      const chosen = await t.request('PUT', '/v1/roles/ambiguous', {
        token: twoTeams,
        body: { owner: 'search', indexesAllowed: ['search_logs', 'pay_api'] },
      });
      expect(chosen.status).toBe(201);
    });

    it('renders roles into authorize.conf and authentication.conf', async () => {
      await t.request('PUT', '/v1/roles/render_me', {
        token,
        body: {
          indexesAllowed: ['pay_api'],
          defaultIndexes: ['pay_api'],
          importRoles: ['user'],
          groups: ['g1', 'g 2'],
        },
      });
      const res = await t.request('GET', '/v1/render?cluster=east', { token });
      expect(res.status).toBe(200);
      const files = Object.fromEntries(
        res.body.files.map((f: { name: string; content: string }) => [f.name, f.content]),
      );
      const authorize = parseConf(files['authorize.conf']);
      expect({ ...authorize.stanzas.find((s) => s.name === 'role_render_me')!.settings }).toEqual({
        importRoles: 'user',
        srchIndexesAllowed: 'pay_api',
        srchIndexesDefault: 'pay_api',
      });
      const authentication = parseConf(files['authentication.conf']);
      expect(authentication.stanzas.map((s) => s.name)).toEqual(['roleMap_corp_ldap']);
      expect(authentication.stanzas[0]!.settings.render_me).toBe('g 2;g1');
    });
  });
}
