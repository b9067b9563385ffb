import { randomUUID } from 'node:crypto';
import { createPgDriver, createService } from '@fleet/chassis';
import { createTestKeys, LogCapture } from '@fleet/chassis/testing';
import { describe, expect, it } from 'vitest';
import { consoleOptions } from '../src/index.js';
import { call } from './fleet.js';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function startConsole(env: Record<string, string>) {
  const service = await createService({
    ...consoleOptions,
    configSources: { env: { PORT: '0', HOST: '127.0.0.1', CONSOLE_SERVICES: '[]', ...env }, argv: [] },
    logDestination: new LogCapture(),
  });
  return { service, consoleUrl: (await service.start()).url };
}

describe('audit trail in the flag store database', () => {
  it('is kept in postgres (a table created on start) and survives a restart', async () => {
    const keys = await createTestKeys();
    const token = await keys.mint({ subject: 'dora', scopes: ['admin'], expiresIn: '5m' });
    const env = { AUTH_PUBLIC_KEYS: keys.jwks, FLAGS_STORE: 'postgres', DATABASE_URL };
    const flag = `console-test.${randomUUID().slice(0, 8)}`;

    const first = await startConsole(env);
    try {
      expect((await call(first, token, 'PUT', `/api/flags/${flag}`, { value: 5000 })).status).toBe(200);
      expect((await call(first, token, 'PUT', `/api/flags/${flag}`, { value: 7525 })).status).toBe(200);
    } finally {
      await first.service.stop();
    }

    const second = await startConsole(env);
    const driver = await createPgDriver(DATABASE_URL);
    try {
      const fleet = (await call(second, token, 'GET', '/api/fleet')).body;
      expect(fleet.audit.storage).toBe('postgres');
      expect(fleet.audit.entries.filter((e: { flag: string }) => e.flag === flag)).toEqual([
        { at: expect.any(String), by: 'dora', flag, from: 5000, to: 7525 },
        { at: expect.any(String), by: 'dora', flag, from: null, to: 5000 },
      ]);
      expect(fleet.flags.items.find((f: { name: string }) => f.name === flag)).toMatchObject({
        value: 7525,
        percent: '75.25%',
      });
      const rows = await driver.query(
        'SELECT actor, to_value FROM console_flag_audit WHERE flag = $1 ORDER BY id',
        [flag],
      );
      expect(rows).toEqual([
        { actor: 'dora', to_value: 5000 },
        { actor: 'dora', to_value: 7525 },
      ]);
    } finally {
      await second.service.flags.remove(flag, { by: 'test cleanup' }).catch(() => false);
      await driver.query('DELETE FROM console_flag_audit WHERE flag = $1', [flag]);
      await driver.close();
      await second.service.stop();
    }
  });

  it('uses the embedded database of the flag store without DATABASE_URL', async () => {
    const keys = await createTestKeys();
    const token = await keys.mint({ subject: 'erin', scopes: ['admin'], expiresIn: '5m' });
    const { service, consoleUrl } = await startConsole({
      AUTH_PUBLIC_KEYS: keys.jwks,
      FLAGS_STORE: 'postgres',
    });
    try {
      expect(
        (await call({ consoleUrl }, token, 'PUT', '/api/flags/embedded.flag', { value: 1 })).status,
      ).toBe(200);
      const fleet = (await call({ consoleUrl }, token, 'GET', '/api/fleet')).body;
      expect(fleet.audit.storage).toBe('pglite');
      expect(fleet.audit.entries).toEqual([
        { at: expect.any(String), by: 'erin', flag: 'embedded.flag', from: null, to: 1 },
      ]);
    } finally {
      await service.stop();
    }
  });
});
