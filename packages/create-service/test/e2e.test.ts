// End to end: generate every template into a throwaway monorepo whose node_modules is the real one
// (no network install), then lint, type-check, build and test each generated service with its own
// tooling, and start the base service with `npm start`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanEnv,
  cli,
  exec,
  PACKAGE_DIR,
  REPO_ROOT,
  TEMPLATE_NAMES,
  type TempRepo,
  tempMonorepo,
} from './helpers.js';

let repo: TempRepo;
const ports: Record<string, number> = {
  base: 3201,
  alf: 3202,
  'index-provisioner': 3203,
  'plugin-runner': 3204,
};
const dirOf = (template: string) => join(repo.root, 'services', `e2e-${template}`);

beforeAll(async () => {
  // Generated services compile against the chassis's typings: build it if this checkout has not yet
  if (!existsSync(join(REPO_ROOT, 'packages/chassis/dist/index.d.ts'))) {
    const built = await exec('npm', ['run', 'build'], join(REPO_ROOT, 'packages/chassis'));
    expect(built.code, built.output).toBe(0);
  }
  repo = tempMonorepo({ chassis: 'link' });
}, 120_000);
afterAll(() => repo?.cleanup());

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
  it('generates base through the real command-line entry point', async () => {
    const result = await exec(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PACKAGE_DIR, 'src/cli.ts'),
        'e2e-base',
        '--template',
        'base',
        '--port',
        '3201',
        '--yes',
      ],
      repo.root,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/Created services\/e2e-base/);
    // and refuses to overwrite it, with a non-zero exit status
    const again = await exec(
      process.execPath,
      ['--import', 'tsx', join(PACKAGE_DIR, 'src/cli.ts'), 'e2e-base', '--template', 'base', '--yes'],
      repo.root,
    );
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/already exists/);
  }, 30_000);

  it('generates the other templates', async () => {
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

  it('lints clean (biome, with the repository configuration)', async () => {
    const result = await exec(join(REPO_ROOT, 'node_modules/.bin/biome'), ['check', 'services'], repo.root);
    expect(result.code, result.output).toBe(0);
  }, 30_000);

  it('builds every service (their build script: tsc -p tsconfig.build.json)', async () => {
    const configs = TEMPLATE_NAMES.map((t) => {
      const pkg = JSON.parse(readFileSync(join(dirOf(t), 'package.json'), 'utf8'));
      expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
      return join(dirOf(t), 'tsconfig.build.json');
    });
    // `tsc -b` runs exactly those builds, sharing the compiler start-up between them
    const result = await exec(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b', ...configs], repo.root);
    expect(result.code, result.output).toBe(0);
    for (const t of TEMPLATE_NAMES) expect(existsSync(join(dirOf(t), 'dist/main.js'))).toBe(true);
  }, 120_000);

  it('type-checks every service with its tests', async () => {
    // One compiler run over all four (the settings of their tsconfig.json): a quarter of the start-up
    writeFileSync(
      join(repo.root, 'tsconfig.e2e.json'),
      JSON.stringify({
        extends: './tsconfig.base.json',
        compilerOptions: { noEmit: true, rootDir: '.' },
        include: ['services/*/src', 'services/*/test'],
      }),
    );
    const result = await exec(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.e2e.json'],
      repo.root,
    );
    expect(result.code, result.output).toBe(0);
  }, 120_000);

  it.each(TEMPLATE_NAMES)(
    '%s passes its own tests (npx vitest run in its folder)',
    async (template) => {
      const test = await exec('npx', ['vitest', 'run'], dirOf(template));
      expect(test.code, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+\d+ passed/);
    },
    60_000,
  );

  it('starts base with npm start, honouring PORT, ready with metrics', async () => {
    const port = await freePort();
    let child: ChildProcess | undefined;
    let output = '';
    try {
      child = spawn('npm', ['start'], {
        cwd: dirOf('base'),
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
