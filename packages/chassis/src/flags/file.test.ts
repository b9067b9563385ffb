import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../metrics/registry.js';
import { FlagsClient } from './client.js';
import { FileFlagStore, parseFlagDocument } from './file.js';
import { adminToken, captureLogger, metricValue, startTestService, waitFor } from './test-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-flags-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function fileClient(path: string, pollIntervalMs = 10_000) {
  const { log, logs } = captureLogger();
  const flags = new FlagsClient({ store: new FileFlagStore({ path, pollIntervalMs, debounceMs: 10 }), log });
  const metrics = new MetricsRegistry({}, false);
  flags.registerMetrics(metrics);
  await flags.start();
  return { flags, logs, metrics };
}

/** Replace a file atomically, as editors and config management do. */
async function replaceFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

describe('parseFlagDocument', () => {
  it('reads a map of values or entries, optionally under `flags`, in JSON or YAML', () => {
    expect(parseFlagDocument('{"a.b": 2500, "c": {"value": "10%", "owner": "team"}}', 'f.json')).toEqual([
      { name: 'a.b', value: 2500 },
      { name: 'c', value: 1000, description: undefined, owner: 'team' },
    ]);
    expect(parseFlagDocument('flags:\n  a.b: true\n  c: { value: 0, description: off }\n', 'f.yaml')).toEqual(
      [
        { name: 'a.b', value: 10_000 },
        { name: 'c', value: 0, description: 'off', owner: undefined },
      ],
    );
  });

  it('lists every problem', () => {
    expect(() => parseFlagDocument('', 'f.json')).toThrow(/empty/);
    expect(() => parseFlagDocument('{"a": ', 'f.json')).toThrow(/cannot parse/);
    expect(() => parseFlagDocument('[1]', 'f.json')).toThrow(/mapping/);
    expect(() => parseFlagDocument('{"a": 10001, "b": {"val": 1}}', 'f.json')).toThrow(
      /a: invalid flag value 10001.*; b: unknown field\(s\) val/,
    );
  });
});

describe('file flag store', () => {
  it('loads the file and hot-reloads it when it changes', async () => {
    const path = join(dir, 'hot.json');
    await writeFile(path, JSON.stringify({ 'hot.flag': 0 }));
    const { flags, metrics } = await fileClient(path);
    expect(flags.get('hot.flag')).toMatchObject({ value: 0, source: 'store' });
    expect(metricValue(await metrics.expose(), 'flags_store_up')).toBe(1);

    await writeFile(path, JSON.stringify({ 'hot.flag': 10_000, 'new.flag': '50%' }));
    await waitFor(() => flags.value('hot.flag') === 10_000, { what: 'in-place write' });
    expect(flags.value('new.flag')).toBe(5000);

    await replaceFile(path, JSON.stringify({ 'hot.flag': 2500 }));
    await waitFor(() => flags.value('hot.flag') === 2500, { what: 'atomic replace' });
    expect(flags.get('new.flag')).toBeUndefined();
    await flags.close();
  });

  it('rejects corrupt updates and keeps the last good snapshot', async () => {
    const path = join(dir, 'corrupt.json');
    await writeFile(path, JSON.stringify({ 'kept.flag': 10_000, 'other.flag': 100 }));
    const { flags, logs, metrics } = await fileClient(path);
    const store = flags.store as FileFlagStore;
    const corrupt = [
      '{"kept.flag": ',
      JSON.stringify({ 'kept.flag': 10_001 }),
      JSON.stringify({ 'Bad Name': 1 }),
      JSON.stringify({ 'kept.flag': -5 }),
      '',
    ];
    for (const text of corrupt) {
      await replaceFile(path, text);
      await store.check();
      expect(flags.value('kept.flag')).toBe(10_000);
      expect(flags.value('other.flag')).toBe(100);
    }
    const rejected = logs.find('flag update rejected: keeping the last good snapshot');
    expect(rejected).toHaveLength(corrupt.length);
    expect(String(rejected[0]!.reason)).toContain('cannot parse');
    expect(metricValue(await metrics.expose(), 'flags_rejected_updates_total')).toBe(corrupt.length);
    // fixed: picked up again
    await replaceFile(path, JSON.stringify({ 'kept.flag': 0 }));
    await store.check();
    expect(flags.value('kept.flag')).toBe(0);
    await flags.close();
  });

  it('follows a Kubernetes ConfigMap update (a ..data symlink swapped by rename)', async () => {
    const mount = join(dir, 'configmap');
    await mkdir(join(mount, '..2024_01'), { recursive: true });
    await writeFile(join(mount, '..2024_01', 'flags.yaml'), 'cm.flag: 0\n');
    await symlink('..2024_01', join(mount, '..data'));
    await symlink(join('..data', 'flags.yaml'), join(mount, 'flags.yaml'));
    const { flags } = await fileClient(join(mount, 'flags.yaml'));
    expect(flags.value('cm.flag')).toBe(0);

    await mkdir(join(mount, '..2024_02'));
    await writeFile(join(mount, '..2024_02', 'flags.yaml'), 'cm.flag: 25%\n');
    await symlink('..2024_02', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    await rm(join(mount, '..2024_01'), { recursive: true });
    await waitFor(() => flags.value('cm.flag') === 2500, { what: 'symlink swap' });
    await flags.close();
  });

  it('polls when change events are missed, and reports a missing file as the store being down', async () => {
    const path = join(dir, 'later', 'flags.json');
    const { flags, logs, metrics } = await fileClient(path, 50);
    expect(flags.status.up).toBe(false);
    expect(metricValue(await metrics.expose(), 'flags_store_up')).toBe(0);
    expect(logs.find('flag store unreachable: serving the last good snapshot')).toHaveLength(1);
    await mkdir(join(dir, 'later'));
    await writeFile(path, JSON.stringify({ 'late.flag': 10_000 }));
    await waitFor(() => flags.value('late.flag') === 10_000, { what: 'poll' });
    expect(flags.status.up).toBe(true);
    await flags.close();
  });

  it('is read-only through the admin API (409)', async () => {
    const path = join(dir, 'service.yaml');
    await writeFile(path, 'svc.flag: 10000\n');
    const { service } = await startTestService({ FLAGS_STORE: 'file', FLAGS_FILE: path });
    expect(service.flags.isAvailable('svc.flag', 'k')).toBe(true);
    const response = await service.app.inject({
      method: 'PUT',
      url: '/admin/flags/svc.flag',
      headers: { authorization: `Bearer ${await adminToken()}` },
      payload: { value: 0 },
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'flag_store_read_only' });
    await service.stop();
  });
});
