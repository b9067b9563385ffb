import { createTestKeys } from '@fleet/chassis/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConf } from '../../src/conf/parser.js';
import { indexBody, type TestService } from '../helpers.js';

export function securitySuite(service: () => TestService): void {
  describe('security', () => {
    let t: TestService;
    let payments: string;

    /** Everything a forbidden request could have changed. */
    async function snapshot() {
      const admin = await t.token({ admin: true, team: [] });
      const [indexes, roles, audit, render] = await Promise.all([
        t.request('GET', '/v1/indexes?limit=500', { token: admin }),
        t.request('GET', '/v1/roles?limit=500', { token: admin }),
        t.request('GET', '/v1/audit?limit=500', { token: admin }),
        t.request('GET', '/v1/render?cluster=east', { token: admin }),
      ]);
      return { indexes: indexes.body, roles: roles.body, audit: audit.body, render: render.body };
    }

    beforeAll(async () => {
      t = service();
      payments = await t.token({ subject: 'alice', team: 'payments' });
      expect(
        (await t.request('POST', '/v1/indexes', { token: payments, body: indexBody('pay_logs') })).status,
      ).toBe(201);
      expect(
        (
          await t.request('PUT', '/v1/roles/pay_readers', {
            token: payments,
            body: { indexesAllowed: ['pay_logs'], groups: ['payments-team'] },
          })
        ).status,
      ).toBe(201);
    });

    it('answers 401 without a token, with a forged or expired token, and changes nothing', async () => {
      const before = await snapshot();
      const otherKeys = await createTestKeys();
      const forged = await otherKeys.mint({
        subject: 'mallory',
        scopes: ['indexes:write', 'admin'],
        claims: { team: 'payments' },
      });
      // Right key id, wrong signature: header and payload of a valid token, signature of another
      const valid = await t.token({ admin: true });
      const forgedSig = `${valid.split('.').slice(0, 2).join('.')}.${forged.split('.')[2]}`;
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ sub: 'mallory', scope: 'indexes:write admin', team: 'payments', exp: 9999999999 }),
      ).toString('base64url')}.`;
      const expired = await t.keys.mint({ subject: 'alice', scopes: ['indexes:write'], expiresIn: -60 });
      for (const token of [undefined, forged, forgedSig, unsigned, expired, 'not-a-jwt']) {
        for (const [method, url, body] of [
          ['POST', '/v1/indexes', indexBody('evil_one')],
          ['PATCH', '/v1/indexes/pay_logs', { maxTotalDataSizeMB: 1 }],
          ['DELETE', '/v1/indexes/pay_logs', undefined],
          ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['*'] }],
          ['DELETE', '/v1/roles/pay_readers', undefined],
          ['POST', '/v1/deployments', { cluster: 'east' }],
          ['POST', '/v1/import', { text: '[evil_two]\n', cluster: 'east', owner: 'payments' }],
          ['GET', '/v1/indexes', undefined],
          ['GET', '/v1/audit', undefined],
        ] as const) {
          const res = await t.request(method, url, { ...(token ? { token } : {}), body });
          expect(res.status, `${method} ${url} with ${token?.slice(0, 12)}`).toBe(401);
          expect(res.body.code).toBe('invalid_token');
        }
      }
      expect(await snapshot()).toEqual(before);
    });

    it('answers 403 for a missing scope, and changes nothing', async () => {
      const before = await snapshot();
      const readOnly = await t.token({ scopes: ['indexes:read'], team: 'payments' });
      const writeOnly = await t.token({ scopes: ['indexes:write'], team: 'payments' });
      for (const [token, method, url, body] of [
        [readOnly, 'POST', '/v1/indexes', indexBody('nope_one')],
        [readOnly, 'PATCH', '/v1/indexes/pay_logs', { maxTotalDataSizeMB: 5 }],
        [readOnly, 'DELETE', '/v1/indexes/pay_logs', undefined],
        [readOnly, 'POST', '/v1/import', { text: '[nope_two]\n', cluster: 'east', owner: 'payments' }],
        [writeOnly, 'PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'] }],
        [writeOnly, 'DELETE', '/v1/roles/pay_readers', undefined],
        [writeOnly, 'POST', '/v1/deployments', { cluster: 'east' }],
        [writeOnly, 'GET', '/v1/indexes', undefined],
        [writeOnly, 'GET', '/v1/audit', undefined],
        [readOnly, 'POST', '/v1/deployments', { cluster: 'east' }],
      ] as const) {
        const res = await t.request(method, url, { token, body });
        expect(res.status, `${method} ${url}`).toBe(403);
        expect(res.body.code).toBe('insufficient_scope');
      }
      expect(await snapshot()).toEqual(before);
    });

    it("answers 403 for another team's index or role, and changes nothing", async () => {
      const before = await snapshot();
      const search = await t.token({ subject: 'bob', team: 'search' });
      const noTeam = await t.token({ subject: 'carol', team: [] });
      const cases = [
        [search, 'PATCH', '/v1/indexes/pay_logs', { maxTotalDataSizeMB: 1 }, 'not_owner'],
        [search, 'DELETE', '/v1/indexes/pay_logs', undefined, 'not_owner'],
        [search, 'POST', '/v1/indexes', indexBody('search_for_payments'), 'not_owner'],
        [noTeam, 'POST', '/v1/indexes', indexBody('no_team'), 'not_owner'],
        [search, 'PUT', '/v1/roles/pay_readers', { indexesAllowed: [] }, 'not_owner'],
        [search, 'DELETE', '/v1/roles/pay_readers', undefined, 'not_owner'],
        // Granting oneself another team's data, a wildcard, or a powerful role
        [search, 'PUT', '/v1/roles/search_sneaky', { indexesAllowed: ['pay_logs'] }, 'not_owner'],
        [search, 'PUT', '/v1/roles/search_wild', { indexesAllowed: ['pay_*'] }, 'admin_only'],
        [search, 'PUT', '/v1/roles/search_internal', { indexesAllowed: ['_audit'] }, 'admin_only'],
        [
          search,
          'PUT',
          '/v1/roles/search_admin',
          { indexesAllowed: [], importRoles: ['admin'] },
          'admin_only',
        ],
        [
          search,
          'PUT',
          '/v1/roles/search_inherit',
          { indexesAllowed: [], importRoles: ['pay_readers'] },
          'not_owner',
        ],
        [
          search,
          'POST',
          '/v1/import',
          { text: '[imported_x]\n', cluster: 'east', owner: 'payments' },
          'not_owner',
        ],
      ] as const;
      for (const [token, method, url, body, code] of cases) {
        const res = await t.request(method, url, { token, body });
        expect(res.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(403);
        expect(res.body.code).toBe(code);
      }
      expect(await snapshot()).toEqual(before);
    });

    it('lets an admin change any team’s index', async () => {
      const admin = await t.token({ subject: 'root', admin: true, team: 'platform' });
      const res = await t.request('PATCH', '/v1/indexes/pay_logs', {
        token: admin,
        body: { description: 'by admin' },
      });
      expect(res.status).toBe(200);
      const audit = await t.request('GET', '/v1/audit?resourceName=pay_logs&action=index.update', {
        token: admin,
      });
      expect(audit.body.items[0].actor).toBe('root');
    });

    it('keeps injection attempts out of the rendered files', async () => {
      const before = await snapshot();
      const attempts = [
        ['POST', '/v1/indexes', indexBody('x\n[evil]')],
        ['POST', '/v1/indexes', indexBody('x]')],
        ['POST', '/v1/indexes', indexBody('x = y')],
        ['POST', '/v1/indexes', indexBody('inj_a', { description: 'line\n[evil]\ncoldPath = /tmp' })],
        ['POST', '/v1/indexes', indexBody('inj_b', { description: 'x\r\ndisabled = true' })],
        ['POST', '/v1/indexes', indexBody('inj_c', { description: 'sep\u2028[evil]' })],
        ['POST', '/v1/indexes', indexBody('inj_d', { description: 'nul\u0000' })],
        ['PATCH', '/v1/indexes/pay_logs', { description: 'a\n[evil]' }],
        ['PUT', '/v1/roles/evil%0A%5Bx%5D', { indexesAllowed: ['pay_logs'] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs\n[evil]'] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'], groups: ['g\n[evil]'] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'], groups: ['g;admins'] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'], groups: ['trailing\\'] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'], groups: [' padded '] }],
        ['PUT', '/v1/roles/pay_readers', { indexesAllowed: ['pay_logs'], importRoles: ['user\nadmin'] }],
        [
          'POST',
          '/v1/import',
          { text: '[inj_e]\n# description: "a"\n', cluster: 'east\n[x]', owner: 'payments' },
        ],
      ] as const;
      for (const [method, url, body] of attempts) {
        const res = await t.request(method, url, { token: payments, body });
        expect([400, 422], `${method} ${url} ${JSON.stringify(body)}`).toContain(res.status);
      }
      expect(await snapshot()).toEqual(before);

      // Free text that is allowed ([, =, #, quotes, backslashes) is escaped into a comment
      const tricky = 'ends with \\ and has [brackets] = equals # hash "quotes"';
      expect(
        (
          await t.request('POST', '/v1/indexes', {
            token: payments,
            body: indexBody('inj_ok', { description: tricky }),
          })
        ).status,
      ).toBe(201);
      const render = await t.request('GET', '/v1/render?cluster=east', { token: payments });
      for (const file of render.body.files) {
        const conf = parseConf(file.content);
        for (const stanza of conf.stanzas)
          expect(stanza.name).toMatch(/^(role_|roleMap_)?[a-z0-9][a-z0-9_-]*$/);
        expect(conf.warnings).toEqual([]);
      }
      const indexes = parseConf(render.body.files[0].content);
      // Exactly one stanza per index of the cluster: nothing injected
      const east = await t.request('GET', '/v1/indexes?cluster=east&limit=500', { token: payments });
      expect(indexes.stanzas.map((s) => s.name).sort()).toEqual(
        east.body.items.map((i: { name: string }) => i.name).sort(),
      );
      expect(indexes.stanzas.map((s) => s.name)).toEqual(expect.arrayContaining(['inj_ok', 'pay_logs']));
      const injOk = indexes.stanzas.find((s) => s.name === 'inj_ok')!;
      expect(Object.keys(injOk.settings)).toEqual(
        Object.keys(indexes.stanzas.find((s) => s.name === 'pay_logs')!.settings),
      );
      expect(injOk.settings.coldPath).toBe('$SPLUNK_DB/inj_ok/colddb');
      expect(injOk.comments).toEqual([`description: ${JSON.stringify(tricky)}`]);
    });
  });
}
