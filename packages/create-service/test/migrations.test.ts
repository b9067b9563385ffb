// The chassis's real migrations (packages/chassis/migrations): each loads, is idempotent, and does
// what it says on services generated from the templates.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadMigrations, type Migration, migrationsBetween } from '../src/migrations.js';
import {
  cli,
  edit,
  PACKAGE_DIR,
  REPO_ROOT,
  read,
  snapshot,
  type TempRepo,
  tempMonorepo,
  write,
} from './helpers.js';

const CHASSIS_MIGRATIONS = join(REPO_ROOT, 'packages/chassis/migrations');
let repo: TempRepo;
let migrations: Migration[];
const dir = (name: string) => join(repo.root, 'services', name);

beforeAll(async () => {
  repo = tempMonorepo({ chassis: { version: '0.1.0' } });
  for (const template of ['base', 'alf']) {
    const result = await cli(repo.root, [`m-${template}`, '--template', template, '--yes']);
    expect(result.code, result.stderr).toBe(0);
  }
  migrations = await loadMigrations(CHASSIS_MIGRATIONS);
});
afterAll(() => repo.cleanup());

async function run(migration: Migration, serviceDir: string, dryRun = false): Promise<string[]> {
  const log: string[] = [];
  await migration.migrate(serviceDir, { dryRun, log: (m) => log.push(m) });
  return log;
}

describe('chassis migrations', () => {
  it('are named by version and export version, description and migrate()', async () => {
    const files = readdirSync(CHASSIS_MIGRATIONS).filter((f) => /^\d+\.\d+\.\d+.*\.mjs$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    expect(migrations.map((m) => `${m.version}.mjs`).sort()).toEqual(files.sort());
    for (const m of migrations) expect(m.description.length).toBeGreaterThan(10);
  });

  it('select the versions in (current, target], in semver order', async () => {
    const fixtures = await loadMigrations(join(PACKAGE_DIR, 'test/fixtures/migrations'));
    expect(fixtures.map((m) => m.version)).toEqual(['0.1.0', '0.2.0', '0.3.0']);
    expect(migrationsBetween(fixtures, '0.1.0', '0.2.0').map((m) => m.version)).toEqual(['0.2.0']);
    expect(migrationsBetween(fixtures, '0.0.9', '1.0.0').map((m) => m.version)).toEqual([
      '0.1.0',
      '0.2.0',
      '0.3.0',
    ]);
    expect(migrationsBetween(fixtures, '0.3.0', '0.3.0')).toEqual([]);
  });

  it.each(['base', 'alf'])(
    'each is a no-op on a service freshly generated from %s, and idempotent',
    async (template) => {
      const serviceDir = dir(`m-${template}`);
      const before = await snapshot(serviceDir);
      for (const migration of migrations) {
        await run(migration, serviceDir, true);
        await run(migration, serviceDir);
        await run(migration, serviceDir);
      }
      expect(await snapshot(serviceDir)).toEqual(before);
    },
  );
});

describe('migration helpers (_lib.mjs)', () => {
  it('editJson writes what Biome would, for package.json and other JSON files', async () => {
    const lib = await import(join(CHASSIS_MIGRATIONS, '_lib.mjs'));
    const target = join(repo.root, 'services/lib-check');
    write(join(target, 'package.json'), '{\n  "name": "x",\n  "files": [\n    "dist"\n  ]\n}\n');
    write(join(target, 'config.json'), '{\n  "tags": ["a"]\n}\n');
    const log: string[] = [];
    const context = { dryRun: false, log: (m: string) => log.push(m) };
    await lib.editJson(
      target,
      'package.json',
      (pkg: { scripts?: Record<string, string> }) => {
        pkg.scripts = { lint: 'biome check .' };
      },
      context,
    );
    await lib.editJson(
      target,
      'config.json',
      (c: { tags: string[] }) => {
        c.tags.push('b');
      },
      context,
    );
    expect(log).toEqual(['updated package.json', 'updated config.json']);
    for (const file of ['package.json', 'config.json']) {
      const text = read(join(target, file));
      const biome = spawnSync(
        join(REPO_ROOT, 'node_modules/.bin/biome'),
        ['format', `--stdin-file-path=${file}`],
        {
          input: text,
          cwd: REPO_ROOT,
          encoding: 'utf8',
        },
      );
      expect(biome.stdout, file).toBe(text);
    }
    // an edit that changes nothing writes nothing
    expect(await lib.editJson(target, 'config.json', () => {}, context)).toBe(false);
  });
});

describe('0.2.0: Kubernetes graceful shutdown', () => {
  const deployment = () => join(dir('m-base'), 'deploy/k8s/deployment.yaml');

  it('adds the drain delay, stretches the grace period, documents the variable; once', async () => {
    const migration = migrations.find((m) => m.version === '0.2.0')!;
    // A service from before: no drain delay, a grace period too short for its shutdown timeout
    edit(deployment(), '            - name: SHUTDOWN_DRAIN_DELAY_MS\n              value: "5000"\n', '');
    edit(deployment(), 'terminationGracePeriodSeconds: 30', 'terminationGracePeriodSeconds: 10');
    const envExample = join(dir('m-base'), '.env.example');
    write(envExample, read(envExample).replace(/^# Time between.*\nSHUTDOWN_DRAIN_DELAY_MS=0\n/m, ''));
    expect(read(envExample)).not.toContain('SHUTDOWN_DRAIN_DELAY_MS');

    const dry = await run(migration, dir('m-base'), true);
    expect(dry).toEqual(['would update deploy/k8s/deployment.yaml', 'would update .env.example']);
    expect(read(deployment())).toContain('terminationGracePeriodSeconds: 10');

    expect(await run(migration, dir('m-base'))).toEqual([
      'updated deploy/k8s/deployment.yaml',
      'updated .env.example',
    ]);
    const doc = parseYaml(read(deployment()));
    const pod = doc.spec.template.spec;
    const env = pod.containers[0].env;
    expect(env).toContainEqual({ name: 'SHUTDOWN_DRAIN_DELAY_MS', value: '5000' });
    // 5 s drain + 20 s SHUTDOWN_TIMEOUT_MS + 5 s margin
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(read(deployment())).toContain('# Must exceed SHUTDOWN_DRAIN_DELAY_MS'); // comments survive
    const { Deployment } = await import('kubernetes-models/apps/v1');
    expect(() => new Deployment(parseAllDocuments(read(deployment()))[0]!.toJS()).validate()).not.toThrow();
    expect(read(envExample)).toMatch(/^SHUTDOWN_DRAIN_DELAY_MS=0$/m);

    const after = await snapshot(dir('m-base'));
    expect(await run(migration, dir('m-base'))).toEqual([]);
    expect(await snapshot(dir('m-base'))).toEqual(after);
  });

  it('skips files a service does not have', async () => {
    const migration = migrations.find((m) => m.version === '0.2.0')!;
    const empty = join(repo.root, 'services/empty');
    write(join(empty, 'package.json'), '{}\n');
    expect(await run(migration, empty)).toEqual([]);
  });
});
