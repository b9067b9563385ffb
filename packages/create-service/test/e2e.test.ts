// End to end, the way a user gets a service: in a throwaway copy of the monorepo skeleton (root
// package.json and lockfile, tsconfig.base.json, biome.json, templates/, the chassis and testkit as
// published: package.json and built dist) generate every template, then one real `npm install` at the
// root (through `create-service --install`), then lint, build, type-check and test each generated
// service with its own tooling, and start base with `npm start`. Services generated from the 1.0.0
// alf and plugin-runner templates, edited locally, are upgraded to 1.1.0 and go through the same.
//
// The install needs the npm registry for anything the npm cache lacks (it is warm after the
// repository's own `npm ci`, so normally nothing): when the registry cannot be reached, the tests that
// need the install are skipped with a message saying so.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { FleetRecord } from '../src/fleet-file.js';
import {
  cleanEnv,
  cli,
  edit,
  exec,
  PACKAGE_DIR,
  REPO_ROOT,
  read,
  registryUnreachable,
  snapshot,
  TEMPLATE_NAMES,
  TEMPLATES_1_0_0,
  type TempRepo,
  tempMonorepo,
} from './helpers.js';

let repo: TempRepo;
/** The tsx loader, by URL: the temporary repository has no node_modules to resolve `tsx` from at first. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ports: Record<string, number> = {
  base: 3201,
  alf: 3202,
  'index-provisioner': 3203,
  'plugin-runner': 3204,
};
/** Generated at template 1.0.0, edited, then upgraded. */
const UPGRADED = ['alf', 'plugin-runner'];
const SERVICES = [...TEMPLATE_NAMES.map((t) => `e2e-${t}`), ...UPGRADED.map((t) => `old-${t}`)];
const dirOf = (service: string) => join(repo.root, 'services', service);
/** Why the install could not run (the registry is unreachable), once known. */
let installSkipped: string | undefined;
let installed = false;

/** Skip a test that needs the installed dependencies when there are none, saying why. */
function needsInstall(ctx: TestContext): void {
  if (installSkipped) ctx.skip(`no npm install: ${installSkipped}`);
  expect(installed, 'npm install did not run').toBe(true);
}

beforeAll(async () => {
  // The copies of the chassis and testkit carry their dist: build them if this checkout has not yet
  for (const pkg of ['chassis', 'testkit']) {
    const dir = join(REPO_ROOT, 'packages', pkg);
    if (!existsSync(join(dir, 'dist/index.d.ts'))) {
      const built = await exec('npm', ['run', 'build'], dir);
      expect(built.code, built.output).toBe(0);
    }
  }
  repo = tempMonorepo({ chassis: 'install' });
}, 120_000);
// Asynchronously, with time to spare: the installed node_modules is a large tree to delete
afterAll(async () => {
  if (repo) await rm(repo.root, { recursive: true, force: true });
}, 120_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

describe('end to end', () => {
  it('generates alf, index-provisioner and plugin-runner', async () => {
    for (const template of TEMPLATE_NAMES.filter((t) => t !== 'base')) {
      const result = await cli(repo.root, [
        `e2e-${template}`,
        '-t',
        template,
        '--port',
        String(ports[template]),
        '--yes',
      ]);
      expect(result.code, result.stderr).toBe(0);
    }
  });

  describe('upgrade of alf and plugin-runner from 1.0.0 (no Kafka) to 1.1.0 with local edits', () => {
    const svc = (template: string, file = '') => join(dirOf(`old-${template}`), file);
    const record = (template: string) => JSON.parse(read(svc(template, '.fleet.json'))) as FleetRecord;

    it('generates them from the 1.0.0 templates and edits them', async () => {
      for (const [i, template] of UPGRADED.entries()) {
        const result = await cli(repo.root, [
          `old-${template}`,
          '-t',
          template,
          '--port',
          String(3210 + i),
          '--yes',
          '--templates',
          TEMPLATES_1_0_0,
        ]);
        expect(result.code, result.stderr).toBe(0);
        expect(record(template).template.version).toBe('1.0.0');
        expect(existsSync(svc(template, 'test/kafka.test.ts'))).toBe(false);
      }
      // alf: a tighter request limit, in a route 1.1.0 leaves alone
      edit(svc('alf', 'src/service.ts'), 'maxItems: 10_000,', 'maxItems: 2_000,');
      // plugin-runner: a plugin of its own, registered next to echo
      edit(
        svc('plugin-runner', 'src/plugins.ts'),
        '/** Every plugin this runner knows',
        [
          '/** Answers with the record, its value upper-cased. */',
          'export const upper: Plugin = {',
          "  name: 'upper',",
          "  version: '1.0.0',",
          '  async handle(record) {',
          '    return { ...record, value: String(record.value).toUpperCase() };',
          '  },',
          '};',
          '',
          '/** Every plugin this runner knows',
        ].join('\n'),
      );
      edit(svc('plugin-runner', 'src/plugins.ts'), 'new Map([echo]', 'new Map([echo, upper]');
      const status = await cli(repo.root, ['status', '--services', 'old-alf,old-plugin-runner']);
      expect(status.stdout).toMatch(
        /^services\/old-alf\s+alf\s+1\.0\.0 → 1\.1\.0\s+0\.1\.0\s+yes\s+1 file$/m,
      );
    });

    it('upgrades them: template changes merged, local edits kept, no conflicts', async () => {
      const result = await cli(repo.root, ['upgrade', '--services', 'old-alf,old-plugin-runner']);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toMatch(/conflict/i);
      for (const template of UPGRADED) {
        expect(record(template).template.version).toBe('1.1.0');
        const pkg = JSON.parse(read(svc(template, 'package.json')));
        expect(pkg.devDependencies).toEqual({ '@fleet/testkit': '*' });
        expect(read(svc(template, '.env.example'))).toMatch(/^KAFKA_BROKERS=$/m);
        expect(existsSync(svc(template, 'test/kafka.test.ts'))).toBe(true);
      }
      // alf: the Kafka source is wired in, and the edit is still there
      const alf = read(svc('alf', 'src/service.ts'));
      expect(alf).toContain('maxItems: 2_000,');
      expect(alf).toContain('consumeLogs(service.kafka, {');
      expect(existsSync(svc('alf', 'src/kafka-source.ts'))).toBe(true);
      expect(read(svc('alf', 'src/forwarder.ts'))).toContain('async deliver(batch: LogEvent[])');
      // plugin-runner: publishes results; its own plugin kept; SOURCE_TOPICS gone
      expect(read(svc('plugin-runner', 'src/service.ts'))).toContain('new ResultPublisher(');
      expect(read(svc('plugin-runner', 'src/plugins.ts'))).toContain('new Map([echo, upper]');
      expect(read(svc('plugin-runner', '.env.example'))).not.toMatch(/SOURCE_TOPICS/);
      expect(read(svc('plugin-runner', '.env.example'))).toMatch(/^RESULTS_TOPIC=plugin-results$/m);
    });

    it('is then up to date, and upgrading again changes nothing', async () => {
      const status = await cli(repo.root, ['status', '--check', '--services', 'old-alf,old-plugin-runner']);
      expect(status.code, status.stdout).toBe(0);
      const before = await snapshot(join(repo.root, 'services'));
      const again = await cli(repo.root, ['upgrade', '--services', 'old-alf,old-plugin-runner']);
      expect(again.code, again.stderr).toBe(0);
      expect(await snapshot(join(repo.root, 'services'))).toEqual(before);
    });
  });

  it('generates base through the real command-line entry point with --install (a real npm install)', async () => {
    const result = await exec(
      process.execPath,
      [
        '--import',
        TSX,
        join(PACKAGE_DIR, 'src/cli.ts'),
        'e2e-base',
        '--template',
        'base',
        '--port',
        '3201',
        '--yes',
        '--install',
      ],
      repo.root,
      // The cache is warm after this repository's install: use it before asking the registry
      { npm_config_prefer_offline: 'true' },
    );
    const unreachable = result.code === 0 ? undefined : registryUnreachable(result.output);
    if (unreachable) {
      installSkipped = `the npm registry is unreachable (${unreachable})`;
      process.stderr.write(
        `\ncreate-service e2e: SKIPPING install, build, tests and start: ${installSkipped}\n`,
      );
    }
    expect(result.output).toMatch(/Created services\/e2e-base/);
    if (installSkipped) return;
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/Running npm install --no-audit --no-fund in \./);
    installed = true;
    // Every generated service is a linked workspace; the chassis is the repository's package, installed
    for (const service of SERVICES) {
      const link = join(repo.root, 'node_modules/@fleet', service);
      expect(lstatSync(link).isSymbolicLink(), service).toBe(true);
      expect(realpathSync(link)).toBe(realpathSync(dirOf(service)));
    }
    expect(realpathSync(join(repo.root, 'node_modules/@fleet/chassis'))).toBe(
      realpathSync(join(repo.root, 'packages/chassis')),
    );
    expect(existsSync(join(repo.root, 'node_modules/kafkajs/package.json'))).toBe(true);
    // and it refuses to overwrite it, with a non-zero exit status
    const again = await exec(
      process.execPath,
      ['--import', TSX, join(PACKAGE_DIR, 'src/cli.ts'), 'e2e-base', '--template', 'base', '--yes'],
      repo.root,
    );
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/already exists/);
  }, 240_000);

  it('lints clean (biome, with the repository configuration)', async (ctx) => {
    needsInstall(ctx);
    const result = await exec(join(repo.root, 'node_modules/.bin/biome'), ['check', 'services'], repo.root);
    expect(result.code, result.output).toBe(0);
  }, 30_000);

  it('builds every service (their build script: tsc -p tsconfig.build.json)', async (ctx) => {
    needsInstall(ctx);
    const configs = SERVICES.map((service) => {
      const pkg = JSON.parse(readFileSync(join(dirOf(service), 'package.json'), 'utf8'));
      expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
      return join(dirOf(service), 'tsconfig.build.json');
    });
    // `tsc -b` runs exactly those builds, sharing the compiler start-up between them
    const result = await exec(join(repo.root, 'node_modules/.bin/tsc'), ['-b', ...configs], repo.root);
    expect(result.code, result.output).toBe(0);
    for (const service of SERVICES) expect(existsSync(join(dirOf(service), 'dist/main.js'))).toBe(true);
  }, 120_000);

  it('type-checks every service with its tests', async (ctx) => {
    needsInstall(ctx);
    // One compiler run over all of them (the settings of their tsconfig.json): one start-up
    writeFileSync(
      join(repo.root, 'tsconfig.e2e.json'),
      JSON.stringify({
        extends: './tsconfig.base.json',
        compilerOptions: { noEmit: true, rootDir: '.' },
        include: ['services/*/src', 'services/*/test'],
      }),
    );
    const result = await exec(
      join(repo.root, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.e2e.json'],
      repo.root,
    );
    expect(result.code, result.output).toBe(0);
  }, 120_000);

  it.for(SERVICES)(
    '%s passes its own tests (npx vitest run in its folder)',
    { timeout: 60_000 },
    async (service, ctx) => {
      needsInstall(ctx);
      const test = await exec('npx', ['vitest', 'run'], dirOf(service));
      expect(test.code, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+\d+ passed/);
      if (service.endsWith('alf') || service.endsWith('plugin-runner'))
        expect(test.output).toMatch(/test\/kafka\.test\.ts/);
    },
  );

  it('starts base with npm start, honouring PORT, ready with metrics', async (ctx) => {
    needsInstall(ctx);
    const port = await freePort();
    let child: ChildProcess | undefined;
    let output = '';
    try {
      child = spawn('npm', ['start'], {
        cwd: dirOf('e2e-base'),
        env: { ...cleanEnv(), PORT: String(port), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      child.stdout?.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.stderr?.on('data', (c: Buffer) => {
        output += c.toString();
      });
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 20_000;
      let ready: Response | undefined;
      while (Date.now() < deadline) {
        ready = await fetch(`${url}/health/ready`).catch(() => undefined);
        if (ready) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready?.status, output).toBe(200);
      expect(await ready!.json()).toMatchObject({ status: 'ready' });
      expect((await fetch(`${url}/hello/fleet`)).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^e2e_base_greetings_total\{kind="public"\} 1$/m);
      expect(metrics).toMatch(/service_info/);
    } finally {
      if (child?.pid) {
        const exited = new Promise((r) => child!.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
    }
  }, 40_000);
});
