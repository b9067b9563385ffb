import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BASE_DIR, BASE_SUFFIX, type FleetRecord } from '../src/fleet-file.js';
import {
  cli,
  edit,
  exec,
  fakeNpm,
  fakeNpmRuns,
  REPO_ROOT,
  read,
  snapshot,
  TEMPLATE_NAMES,
  type TempRepo,
  tempMonorepo,
  write,
} from './helpers.js';

let repo: TempRepo;
let services: string;

beforeAll(() => {
  repo = tempMonorepo({ chassis: 'link' });
  services = join(repo.root, 'services');
});
afterAll(() => repo.cleanup());

/** Run a generation that must fail: non-zero exit, the message, and not one file written. */
async function rejects(args: string[], message: RegExp, code = 1): Promise<string> {
  const before = await snapshot(repo.root);
  const result = await cli(repo.root, args);
  expect(result.code, result.stdout + result.stderr).toBe(code);
  expect(result.stderr).toMatch(message);
  const after = await snapshot(repo.root);
  expect([...after.keys()]).toEqual([...before.keys()]);
  expect(readdirSync(services).filter((e) => e.startsWith('.'))).toEqual([]);
  return result.stderr;
}

describe('generate', () => {
  it('generates a service with its record, pristine base and next steps', async () => {
    const result = await cli(repo.root, [
      'orders',
      '--template',
      'base',
      '--port',
      '3101',
      '--description',
      'Orders API: "quotes" and \'apostrophes\'',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Created services\/orders from template base@1\.0\.0/);
    expect(result.stdout).toMatch(/npm start/);
    const dir = join(services, 'orders');
    const pkg = JSON.parse(read(join(dir, 'package.json')));
    expect(pkg).toMatchObject({
      name: '@fleet/orders',
      description: 'Orders API: "quotes" and \'apostrophes\'',
      dependencies: { '@fleet/chassis': '*' },
      scripts: { build: expect.any(String), start: 'node dist/main.js', test: 'vitest run' },
    });
    expect(pkg.devDependencies).toBeUndefined();
    const record = JSON.parse(read(join(dir, '.fleet.json'))) as FleetRecord;
    const chassisVersion = JSON.parse(read(join(repo.root, 'packages/chassis/package.json'))).version;
    expect(record).toMatchObject({
      template: { name: 'base', version: '1.0.0', hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
      chassisVersion,
      answers: { name: 'orders', port: 3101, dir: 'services', standalone: false },
      migrations: [],
    });
    // The pristine base mirrors every rendered file, under a suffix no tool picks up
    for (const file of ['package.json', 'src/service.ts', 'deploy/k8s/deployment.yaml', 'Dockerfile'])
      expect(read(join(dir, BASE_DIR, file + BASE_SUFFIX))).toBe(read(join(dir, file)));
    expect(read(join(dir, 'tsconfig.json'))).toContain('"extends": "../../tsconfig.base.json"');
    expect(read(join(dir, 'src/service.ts'))).toContain('export const DEFAULT_PORT = 3101;');
    expect(existsSync(join(dir, 'biome.json'))).toBe(false);
  });

  it('lists templates with their versions', async () => {
    const result = await cli(repo.root, ['--list-templates']);
    expect(result.code).toBe(0);
    for (const name of TEMPLATE_NAMES)
      expect(result.stdout).toMatch(new RegExp(`^${name}@\\d+\\.\\d+\\.\\d+ `, 'm'));
    expect(result.stdout).not.toMatch(/_shared/);
  });

  it('prints help', async () => {
    const result = await cli(repo.root, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/create-service <name> --template <kind>/);
    expect(result.stdout).toMatch(/upgrade/);
  });

  it('defaults the port to the lowest free one and the description with --yes', async () => {
    const result = await cli(repo.root, ['defaults', '--template', 'base', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    const record = JSON.parse(read(join(services, 'defaults/.fleet.json'))) as FleetRecord;
    expect(record.answers.port).toBe(3001);
    expect(record.answers.description).toBe('A Fleet service');
  });

  it('generates a service named like a command with `create <name>`', async () => {
    const result = await cli(repo.root, ['create', 'status', '--template', 'base', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(join(services, 'status/.fleet.json'))).toBe(true);
    rmSync(join(services, 'status'), { recursive: true });
  });

  it('prompts for missing answers on a terminal', async () => {
    const asked: string[] = [];
    const result = await cli(repo.root, ['prompted'], {
      isTTY: true,
      prompt: async (questions) => {
        asked.push(...questions.map((q) => q.name));
        expect(questions.find((q) => q.name === 'template')?.choices?.map((c) => c.value)).toEqual(
          TEMPLATE_NAMES,
        );
        const port = questions.find((q) => q.name === 'port')!;
        expect(port.default).toBe('3002');
        expect(port.validate?.('3101')).toMatch(/used by services\/orders/);
        return { template: 'alf', description: 'Prompted', port: '3150' };
      },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(asked).toEqual(['template', 'description', 'port']);
    expect(JSON.parse(read(join(services, 'prompted/.fleet.json'))).answers).toMatchObject({
      port: 3150,
      description: 'Prompted',
    });
  });

  it('runs npm install at the repository root with --install', async () => {
    const log = join(repo.root, '..', `${repo.root.split('/').pop()}-npm.log`);
    const ok = await cli(repo.root, ['installed', '--template', 'base', '--yes', '--install'], {
      env: fakeNpm(log),
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(fakeNpmRuns(log)).toEqual([
      { cwd: realpathSync(repo.root), args: ['install', '--no-audit', '--no-fund'] },
    ]);
    expect(ok.stdout).not.toMatch(/npm install {3}# at the repository root/);
    const failed = await cli(repo.root, ['installed-2', '--template', 'base', '--yes', '--install'], {
      env: fakeNpm(log, 1),
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /npm install failed \(exit 1\); the service was generated at services\/installed-2/,
    );
    rmSync(log, { force: true });
  });

  it('replaces an existing directory with --force, atomically', async () => {
    write(join(services, 'defaults/stale.txt'), 'left over');
    const result = await cli(repo.root, [
      'defaults',
      '--template',
      'alf',
      '--yes',
      '--port',
      '3001',
      '--force',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(join(services, 'defaults/stale.txt'))).toBe(false);
    expect(JSON.parse(read(join(services, 'defaults/.fleet.json'))).template.name).toBe('alf');
    expect(readdirSync(services).filter((e) => e.startsWith('.'))).toEqual([]);
  });
});

describe('bad input: clear error, non-zero exit, nothing written', () => {
  it.each([
    ['Orders', /uppercase/],
    ['my_service', /DNS-1123 label/],
    ['-svc', /DNS-1123 label/],
    ['svc-', /DNS-1123 label/],
    ['9lives', /must start with a letter/],
    ['a'.repeat(64), /at most 63/],
    ['http', /reserved npm package name/],
  ])('rejects the name %s', async (name, message) => {
    await rejects(['--template', 'base', '--yes', '--', name], message);
  });

  it('refuses an existing directory without --force', async () => {
    await rejects(
      ['orders', '--template', 'base', '--yes'],
      /services\/orders already exists \(pass --force/,
    );
  });

  it('rejects an unknown template, naming the available ones', async () => {
    await rejects(
      ['shop', '--template', 'nope', '--yes'],
      /unknown template 'nope' \(available: alf, base, index-provisioner, plugin-runner\)/,
    );
  });

  it('rejects a port another service uses', async () => {
    await rejects(
      ['shop', '--template', 'base', '--yes', '--port', '3101'],
      /port 3101 is already used by services\/orders/,
    );
  });

  it('counts a chassis service that declares no port as using 3000', async () => {
    write(
      join(services, 'legacy/package.json'),
      JSON.stringify({ name: '@fleet/legacy', dependencies: { '@fleet/chassis': '*' } }),
    );
    try {
      await rejects(
        ['shop', '--template', 'base', '--yes', '--port', '3000'],
        /port 3000 is already used by services\/legacy/,
      );
    } finally {
      // leave the repo as the other tests expect it
      rmSync(join(services, 'legacy'), { recursive: true });
    }
  });

  it.each([['80'], ['abc'], ['70000']])('rejects the port %s', async (port) => {
    await rejects(
      ['shop', '--template', 'base', '--yes', '--port', port],
      /invalid --port: port must be an integer from 1024 to 65535/,
    );
  });

  it('rejects a multi-line description', async () => {
    await rejects(['shop', '--template', 'base', '--yes', '--description', 'two\nlines'], /single line/);
  });

  it('names the missing flags when there is no terminal to prompt on', async () => {
    const stderr = await rejects(
      ['shop', '--port', '3200'],
      /missing --template, --description: there is no terminal/,
    );
    expect(stderr).toMatch(/--yes/);
    await rejects(['--template', 'base', '--yes'], /missing <name>/);
  });

  it('rejects a --dir that is not a workspace', async () => {
    await rejects(['shop', '--template', 'base', '--yes', '--dir', 'apps'], /would not be a workspace/);
    await rejects(['shop', '--template', 'base', '--yes', '--dir', '../elsewhere'], /outside the monorepo/);
  });

  it('rejects unknown flags as usage errors (exit 2)', async () => {
    await rejects(['shop', '--template', 'base', '--yes', '--colour'], /Unknown option '--colour'/, 2);
    await rejects(
      ['shop', '--template', 'base', '--dry-run'],
      /--dry-run does not apply to generating a service/,
      2,
    );
  });

  it('leaves nothing behind when a template fails to render', async () => {
    const broken = join(repo.root, 'templates/broken');
    write(
      join(broken, 'template.json'),
      JSON.stringify({ name: 'broken', version: '1.0.0', description: 'x', layers: ['_shared'] }),
    );
    write(join(broken, 'files/src/service.ts.hbs'), 'export const x = {{doesNotExist}};\n');
    try {
      await rejects(
        ['shop', '--template', 'broken', '--yes'],
        /broken\/files\/src\/service\.ts\.hbs: .*doesNotExist/,
      );
    } finally {
      rmSync(broken, { recursive: true });
    }
  });

  it('rejects a template file without the .hbs suffix', async () => {
    const bare = join(repo.root, 'templates/bare');
    write(join(bare, 'template.json'), JSON.stringify({ name: 'bare', version: '1.0.0', description: 'x' }));
    write(join(bare, 'files/index.ts'), 'export {};\n');
    try {
      await rejects(['shop', '--template', 'bare', '--yes'], /must end in \.hbs/);
    } finally {
      rmSync(bare, { recursive: true });
    }
  });
});

describe('standalone', () => {
  it('depends on the published chassis range, documents a lockfile-free install, lints and compiles', async () => {
    const outside = join(repo.root, '..', `${repo.root.split('/').pop()}-standalone`);
    mkdirSync(outside, { recursive: true });
    try {
      const result = await cli(outside, ['lonely', '--template', 'base', '--yes', '--port', '4000']);
      expect(result.code, result.stderr).toBe(0);
      const dir = join(outside, 'lonely');
      const pkg = JSON.parse(read(join(dir, 'package.json')));
      const chassisVersion = JSON.parse(read(join(repo.root, 'packages/chassis/package.json'))).version;
      expect(pkg.dependencies['@fleet/chassis']).toBe(`^${chassisVersion}`);
      expect(Object.keys(pkg.devDependencies)).toEqual([
        '@biomejs/biome',
        '@types/node',
        'typescript',
        'vitest',
      ]);
      expect(read(join(dir, 'README.md'))).toContain('npm install --no-package-lock');
      expect(read(join(dir, 'tsconfig.json'))).toContain('"extends": "./tsconfig.base.json"');
      expect(existsSync(join(dir, 'biome.json'))).toBe(true);
      expect(existsSync(join(dir, '.dockerignore'))).toBe(true);
      expect(read(join(dir, 'Dockerfile'))).toMatch(/docker build -t fleet\/lonely/);
      expect(JSON.parse(read(join(dir, '.fleet.json'))).answers).toMatchObject({
        standalone: true,
        dir: '.',
      });
      // Its own Biome and TypeScript settings hold: lint-clean, and it type-checks (sources and tests)
      // against the chassis (node_modules borrowed from this repository instead of an install)
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const lint = await exec(join(REPO_ROOT, 'node_modules/.bin/biome'), ['check', '.'], dir);
      expect(lint.code, lint.output).toBe(0);
      const types = await exec(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], dir);
      expect(types.code, types.output).toBe(0);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('container and Kubernetes manifests', () => {
  it.each(TEMPLATE_NAMES)(
    '%s: manifests pass schema validation and carry the production settings',
    async (template) => {
      const name = `k8s-${template}`;
      const result = await cli(repo.root, [name, '--template', template, '--yes']);
      expect(result.code, result.stderr).toBe(0);
      const dir = join(services, name);
      const port = (JSON.parse(read(join(dir, '.fleet.json'))) as FleetRecord).answers.port;
      const { Deployment } = await import('kubernetes-models/apps/v1');
      const { ConfigMap, Service } = await import('kubernetes-models/v1');
      const { HorizontalPodAutoscaler } = await import('kubernetes-models/autoscaling/v2');
      const { PodDisruptionBudget } = await import('kubernetes-models/policy/v1');
      const models: Record<string, new (data: never) => { validate(): void }> = {
        Deployment,
        Service,
        ConfigMap,
        HorizontalPodAutoscaler,
        PodDisruptionBudget,
      };
      // biome-ignore lint/suspicious/noExplicitAny: parsed manifests are checked field by field below
      type Manifest = any;
      const docs: Manifest[] = [];
      for (const file of ['deployment', 'service', 'configmap', 'hpa', 'pdb']) {
        const text = read(join(dir, `deploy/k8s/${file}.yaml`));
        for (const doc of text.split(/^---$/m)) docs.push(parseYaml(doc));
      }
      for (const doc of docs) {
        const Model = models[doc.kind];
        expect(Model, doc.kind).toBeDefined();
        expect(() => new Model!(doc as never).validate()).not.toThrow();
      }
      const deployment = docs.find((d) => d.kind === 'Deployment')!;
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      expect(container.ports[0].containerPort).toBe(port);
      expect(container.livenessProbe.httpGet.path).toBe('/health/live');
      expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(container.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources.limits.memory).toBeDefined();
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
      });
      const env = Object.fromEntries(
        container.env.filter((e: Manifest) => 'value' in e).map((e: Manifest) => [e.name, Number(e.value)]),
      );
      expect(env.SHUTDOWN_DRAIN_DELAY_MS).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        env.SHUTDOWN_DRAIN_DELAY_MS + env.SHUTDOWN_TIMEOUT_MS,
      );
      const configMaps = docs.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name);
      expect(configMaps).toEqual([`${name}-config`, `${name}-flags`]);
      expect(docs.find((d) => d.kind === 'ConfigMap')!.data.PORT).toBe(String(port));
      expect(docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!.apiVersion).toBe('autoscaling/v2');
      expect(docs.find((d) => d.kind === 'PodDisruptionBudget')!.apiVersion).toBe('policy/v1');

      const dockerfile = read(join(dir, 'Dockerfile'));
      expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
      expect(dockerfile).toMatch(/^USER node$/m);
      expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health\/ready/m);
      expect(dockerfile).toContain(`EXPOSE ${port}`);
    },
  );
});

describe('helpers', () => {
  it('edit() fails loudly on missing text', () => {
    expect(() => edit(join(services, 'orders/package.json'), 'not there', 'x')).toThrow(/does not contain/);
  });
});
