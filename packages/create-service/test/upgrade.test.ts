// Upgrade and status on a fixture fleet: services generated at template base@1.0.0 on chassis 0.1.0,
// edited locally; then the template moves to 1.1.0 (a changed line, a new file, a removed file) and
// the chassis to 0.2.0 (with fixture migrations at 0.1.0, 0.2.0 and 0.3.0).
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetRecord } from '../src/fleet-file.js';
import {
  cli,
  edit,
  fakeNpm,
  fakeNpmRuns,
  PACKAGE_DIR,
  read,
  setChassisVersion,
  snapshot,
  type TempRepo,
  tempMonorepo,
  write,
} from './helpers.js';

const FIXTURE_MIGRATIONS = join(PACKAGE_DIR, 'test/fixtures/migrations');
let repo: TempRepo;
const svc = (name: string, file = '') => join(repo.root, 'services', name, file);
const record = (name: string) => JSON.parse(read(svc(name, '.fleet.json'))) as FleetRecord;

const OLD_HELP = "help: 'Greetings served',";
const NEW_HELP = "help: 'Greetings served, by kind',";

beforeAll(async () => {
  repo = tempMonorepo({ chassis: { version: '0.1.0', migrationsFrom: FIXTURE_MIGRATIONS } });
  const base = join(repo.root, 'templates/base');
  // Template 1.0.0 has a file that 1.1.0 will drop
  write(join(base, 'files/OLD.md.hbs'), 'Old notes for {{name}}.\n');
  for (const [name, port] of [
    ['svc-a', '3301'],
    ['svc-b', '3302'],
    ['svc-c', '3303'],
  ] as const) {
    const result = await cli(repo.root, [name, '--template', 'base', '--port', port, '--yes']);
    expect(result.code, result.stderr).toBe(0);
  }
  // Local edits. svc-a: away from what the template changes. svc-b: the very line it changes.
  edit(
    svc('svc-a', 'src/service.ts'),
    '    // Any valid bearer token',
    "    app.get('/local', async () => ({ local: true }));\n\n    // Any valid bearer token",
  );
  write(
    svc('svc-a', 'README.md'),
    `${read(svc('svc-a', 'README.md'))}\n## Local notes\n\nKept across upgrades.\n`,
  );
  edit(svc('svc-b', 'src/service.ts'), OLD_HELP, "help: 'Greetings served locally',");
  write(svc('svc-b', 'OLD.md'), 'Old notes, edited locally.\n');
});
afterAll(() => repo.cleanup());

function moveTemplateAndChassis(): void {
  const base = join(repo.root, 'templates/base');
  edit(join(base, 'template.json'), '"version": "1.0.0"', '"version": "1.1.0"');
  edit(join(base, 'files/src/service.ts.hbs'), OLD_HELP, NEW_HELP);
  rmSync(join(base, 'files/OLD.md.hbs'));
  write(join(base, 'files/docs/RUNBOOK.md.hbs'), '# {{name}} runbook\n\nPage the owners.\n');
  setChassisVersion(repo.root, '0.2.0');
}

describe('status and upgrade', () => {
  it('status: up to date, with local drift', async () => {
    const result = await cli(repo.root, ['status']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^SERVICE\s+TEMPLATE\s+VERSION\s+CHASSIS\s+BEHIND\s+DRIFT$/m);
    expect(result.stdout).toMatch(/^services\/svc-a\s+base\s+1\.0\.0\s+0\.1\.0\s+no\s+2 files$/m);
    expect(result.stdout).toMatch(/^services\/svc-c\s+base\s+1\.0\.0\s+0\.1\.0\s+no\s+none$/m);
    expect((await cli(repo.root, ['status', '--check'])).code).toBe(0);
  });

  it('status --check fails once the template or the chassis moves on', async () => {
    moveTemplateAndChassis();
    const result = await cli(repo.root, ['status', '--check']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^services\/svc-a\s+base\s+1\.0\.0 → 1\.1\.0\s+0\.1\.0 → 0\.2\.0\s+yes\s+2 files$/m,
    );
    expect(result.stderr).toMatch(/3 service\(s\) behind: services\/svc-a, services\/svc-b, services\/svc-c/);
    const json = await cli(repo.root, ['status', '--json', '--services', 'svc-a']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.behind).toBe(1);
    expect(parsed.services[0]).toMatchObject({
      service: 'services/svc-a',
      template: 'base',
      templateVersion: '1.0.0',
      latestTemplateVersion: '1.1.0',
      chassisVersion: '0.1.0',
      targetChassisVersion: '0.2.0',
      behind: true,
      drift: ['README.md', 'src/service.ts'],
    });
  });

  it('upgrade --dry-run prints the unified diff and writes nothing', async () => {
    const before = await snapshot(join(repo.root, 'services'));
    const result = await cli(repo.root, ['upgrade', '--dry-run', '--services', 'svc-a']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /services\/svc-a: template base 1\.0\.0 → 1\.1\.0, chassis 0\.1\.0 → 0\.2\.0 \(dry run\)/,
    );
    expect(result.stdout).toContain(
      '--- a/services/svc-a/src/service.ts\n+++ b/services/svc-a/src/service.ts\n',
    );
    expect(result.stdout).toContain(`-      ${OLD_HELP}\n+      ${NEW_HELP}\n`);
    expect(result.stdout).toContain(
      '--- /dev/null\n+++ b/services/svc-a/docs/RUNBOOK.md\n@@ -0,0 +1,3 @@\n+# svc-a runbook\n',
    );
    expect(result.stdout).toContain('--- a/services/svc-a/OLD.md\n+++ /dev/null\n');
    expect(result.stdout).toMatch(
      /migration 0\.2\.0: fixture: adds the migrated-0\.2\.0 script \(would run\)\n\s+would add the migrated-0\.2\.0 script/,
    );
    expect(result.stdout).not.toMatch(/migration 0\.[13]\.0/);
    expect(await snapshot(join(repo.root, 'services'))).toEqual(before);
  });

  it('upgrade keeps local edits, applies the template change, runs the migration once', async () => {
    const result = await cli(repo.root, ['upgrade', '--services', 'svc-a']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}M src\/service\.ts$/m);
    expect(result.stdout).toMatch(/^ {2}A docs\/RUNBOOK\.md$/m);
    expect(result.stdout).toMatch(/^ {2}D OLD\.md$/m);
    const code = read(svc('svc-a', 'src/service.ts'));
    expect(code).toContain("app.get('/local', async () => ({ local: true }));");
    expect(code).toContain(NEW_HELP);
    expect(code).not.toContain(OLD_HELP);
    expect(read(svc('svc-a', 'README.md'))).toContain('## Local notes');
    expect(read(svc('svc-a', 'docs/RUNBOOK.md'))).toBe('# svc-a runbook\n\nPage the owners.\n');
    expect(existsSync(svc('svc-a', 'OLD.md'))).toBe(false);
    expect(read(svc('svc-a', '.migration-runs'))).toBe('0.2.0\n');
    expect(JSON.parse(read(svc('svc-a', 'package.json'))).scripts['migrated-0.2.0']).toBe('echo 0.2.0');
    expect(record('svc-a')).toMatchObject({
      template: { name: 'base', version: '1.1.0' },
      chassisVersion: '0.2.0',
      migrations: ['0.2.0'],
    });
    // The pristine base moved to the new render, without the local edit
    const pristine = read(svc('svc-a', '.fleet/base/src/service.ts.base'));
    expect(pristine).toContain(NEW_HELP);
    expect(pristine).not.toContain('/local');
    expect(existsSync(svc('svc-a', '.fleet/base/OLD.md.base'))).toBe(false);
  });

  it('running upgrade again changes nothing', async () => {
    const before = await snapshot(svc('svc-a'));
    const result = await cli(repo.root, ['upgrade', '--services', 'svc-a']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/services\/svc-a: template base@1\.1\.0, chassis 0\.2\.0: up to date/);
    expect(await snapshot(svc('svc-a'))).toEqual(before);
    expect(read(svc('svc-a', '.migration-runs'))).toBe('0.2.0\n');
  });

  it('a conflicting edit gets conflict markers, is listed, and exits non-zero', async () => {
    const result = await cli(repo.root, ['upgrade', '--services', 'svc-b,svc-c']);
    expect(result.code).toBe(1);
    const code = read(svc('svc-b', 'src/service.ts'));
    expect(code).toMatch(
      /<<<<<<< local\n {6}help: 'Greetings served locally',\n=======\n {6}help: 'Greetings served, by kind',\n>>>>>>> template base@1\.1\.0\n/,
    );
    expect(result.stdout).toMatch(/^ {2}C src\/service\.ts {2}\(conflict/m);
    expect(result.stderr).toMatch(
      /Conflicts \(resolve the <<<<<<< ======= >>>>>>> markers, then test\):\n {2}services\/svc-b\/src\/service\.ts\n/,
    );
    // A file the template removed but that was edited locally is kept, and said so
    expect(read(svc('svc-b', 'OLD.md'))).toBe('Old notes, edited locally.\n');
    expect(result.stdout).toMatch(/note: OLD\.md: removed from the template but modified locally, kept/);
    // The other service upgraded cleanly in the same run
    expect(record('svc-c').template.version).toBe('1.1.0');
    expect(read(svc('svc-c', '.migration-runs'))).toBe('0.2.0\n');
    // Status reports the unresolved conflict; nothing is behind any more
    const status = await cli(repo.root, ['status', '--check']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /^services\/svc-b\s+base\s+1\.1\.0\s+0\.2\.0\s+no\s+2 files, 1 conflicted$/m,
    );
  });

  it('refuses a downgrade and unknown services', async () => {
    const down = await cli(repo.root, ['upgrade', '--to', '0.1.5']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/on chassis 0\.2\.0; upgrading to 0\.1\.5 would downgrade it/);
    const unknown = await cli(repo.root, ['upgrade', '--services', 'svc-a,nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown service: nope \(generated services: svc-a, svc-b, svc-c\)/);
    const bad = await cli(repo.root, ['upgrade', '--to', 'latest']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--to latest is not a semantic version/);
  });
});

describe('upgrade rollback', () => {
  it('restores the service when a migration fails', async () => {
    const other = tempMonorepo({ chassis: { version: '0.1.0' } });
    try {
      expect((await cli(other.root, ['solo', '--template', 'base', '--yes'])).code).toBe(0);
      const dir = join(other.root, 'services/solo');
      const before = await snapshot(dir);
      setChassisVersion(other.root, '0.2.0');
      const failing = join(PACKAGE_DIR, 'test/fixtures/migrations-failing');
      const result = await cli(other.root, ['upgrade', '--migrations', failing]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/services\/solo: upgrade failed: .*boom: fixture migration failed/);
      expect(await snapshot(dir)).toEqual(before);
    } finally {
      other.cleanup();
    }
  });
});

describe('standalone upgrade', () => {
  it('bumps the published chassis range and runs the migrations in order', async () => {
    const outside = join(repo.root, '..', `${repo.root.split('/').pop()}-solo`);
    mkdirSync(outside, { recursive: true });
    try {
      expect((await cli(outside, ['solo', '--template', 'base', '--yes'])).code).toBe(0);
      const dir = join(outside, 'solo');
      const from = record2(dir).chassisVersion;
      // The new chassis is installed next to the service, migrations and all
      write(
        join(dir, 'node_modules/@fleet/chassis/package.json'),
        JSON.stringify({ name: '@fleet/chassis', version: '9.0.0' }),
      );
      cpSync(FIXTURE_MIGRATIONS, join(dir, 'node_modules/@fleet/chassis/migrations'), { recursive: true });
      const log = join(outside, 'npm.log');
      const result = await cli(dir, ['upgrade', '--test'], { env: fakeNpm(log) });
      expect(result.code, result.stderr).toBe(0);
      expect(fakeNpmRuns(log)).toEqual([{ cwd: realpathSync(dir), args: ['test'] }]);
      expect(result.stdout).toMatch(/Tests:\n {2}solo: passed\n/);
      expect(JSON.parse(read(join(dir, 'package.json'))).dependencies['@fleet/chassis']).toBe('^9.0.0');
      const expected = ['0.1.0', '0.2.0', '0.3.0'].filter((v) => semver.gt(v, from));
      expect(read(join(dir, '.migration-runs'))).toBe(expected.map((v) => `${v}\n`).join(''));
      expect(record2(dir)).toMatchObject({ chassisVersion: '9.0.0', migrations: expected });
      // and the pristine base carries the new range too: no drift from the bump
      const status = await cli(dir, ['status', '--json']);
      expect(JSON.parse(status.stdout).services[0]).toMatchObject({ behind: false, drift: ['package.json'] });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

function record2(dir: string): FleetRecord {
  return JSON.parse(read(join(dir, '.fleet.json'))) as FleetRecord;
}
