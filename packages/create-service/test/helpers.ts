import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTree } from '../src/fsutil.js';
import type { Io, Question } from '../src/io.js';
import { main } from '../src/main.js';

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(PACKAGE_DIR, '../..');
export const TEMPLATE_NAMES = ['alf', 'base', 'index-provisioner', 'plugin-runner'];

export interface TempRepo {
  root: string;
  cleanup(): void;
}

export interface TempRepoOptions {
  /**
   * 'link': node_modules and packages/chassis are symlinks to this repository's (no install).
   * 'install': nothing installed yet; the root package.json and package-lock.json are this
   * repository's, packages/chassis and packages/testkit are copies of their published files (built
   * dist included), ready for a real `npm install`.
   * Else: node_modules linked, and a chassis stand-in with this version and migrations.
   */
  chassis: 'link' | 'install' | { version: string; migrationsFrom?: string };
}

/** What `npm pack` would publish of a workspace package: its package.json `files` and package.json. */
function copyPublished(pkgDir: string, to: string): void {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { files?: string[] };
  mkdirSync(to, { recursive: true });
  for (const entry of ['package.json', ...(pkg.files ?? [])])
    if (existsSync(join(pkgDir, entry))) cpSync(join(pkgDir, entry), join(to, entry), { recursive: true });
}

/**
 * A throwaway Fleet monorepo: root package.json with workspaces, the real tsconfig.base.json and
 * biome.json, a copy of templates/, and the chassis as `options.chassis` says.
 */
export function tempMonorepo(options: TempRepoOptions): TempRepo {
  const root = mkdtempSync(join(tmpdir(), 'fleet-cs-'));
  if (options.chassis === 'install') {
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(REPO_ROOT, file), join(root, file));
  } else {
    writeFileSync(
      join(root, 'package.json'),
      `${JSON.stringify({ name: 'fleet-tmp', private: true, type: 'module', workspaces: ['packages/*', 'services/*'] }, null, 2)}\n`,
    );
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  }
  for (const file of ['tsconfig.base.json', 'biome.json']) cpSync(join(REPO_ROOT, file), join(root, file));
  cpSync(join(REPO_ROOT, 'templates'), join(root, 'templates'), { recursive: true });
  mkdirSync(join(root, 'packages'));
  mkdirSync(join(root, 'services'));
  if (options.chassis === 'install') {
    for (const pkg of ['chassis', 'testkit'])
      copyPublished(join(REPO_ROOT, 'packages', pkg), join(root, 'packages', pkg));
  } else if (options.chassis === 'link') {
    symlinkSync(join(REPO_ROOT, 'packages/chassis'), join(root, 'packages/chassis'), 'dir');
  } else {
    setChassisVersion(root, options.chassis.version);
    if (options.chassis.migrationsFrom)
      cpSync(options.chassis.migrationsFrom, join(root, 'packages/chassis/migrations'), { recursive: true });
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The alf and plugin-runner templates as released at 1.0.0 (before Kafka), with their shared layer. */
export const TEMPLATES_1_0_0 = join(PACKAGE_DIR, 'test/fixtures/templates-1.0.0');

export function setChassisVersion(root: string, version: string): void {
  mkdirSync(join(root, 'packages/chassis'), { recursive: true });
  writeFileSync(
    join(root, 'packages/chassis/package.json'),
    `${JSON.stringify({ name: '@fleet/chassis', version, type: 'module' }, null, 2)}\n`,
  );
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process. */
export async function cli(
  cwd: string,
  args: string[],
  extra: {
    isTTY?: boolean;
    prompt?: (q: Question[]) => Promise<Record<string, string>>;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    cwd,
    env: { ...process.env, ...extra.env },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    isTTY: extra.isTTY ?? false,
    ...(extra.prompt ? { prompt: extra.prompt } : {}),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** Every file under `dir` with its content (dependencies and build output excluded). */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  if (!existsSync(dir)) return new Map();
  return readTree(dir, { ignoreDirs: new Set(['node_modules', 'dist']) });
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}

export function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Replace `from` by `to` in a file; fails loudly when `from` is not there. */
export function edit(path: string, from: string, to: string): void {
  const text = read(path);
  if (!text.includes(from)) throw new Error(`${path} does not contain ${JSON.stringify(from)}`);
  write(path, text.replace(from, to));
}

/** The environment without this vitest run's own variables, so that nested tools start fresh. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^(VITEST|TEST$|NODE_ENV$|NODE_OPTIONS$|TINYPOOL)/.test(key)) env[key] = value;
  return env;
}

/** An npm stand-in (CREATE_SERVICE_NPM) that logs its runs to `log`; read them with fakeNpmRuns. */
export function fakeNpm(log: string, exitCode = 0): NodeJS.ProcessEnv {
  const bin = join(PACKAGE_DIR, 'test/fixtures/fake-npm.mjs');
  chmodSync(bin, 0o755);
  return { CREATE_SERVICE_NPM: bin, FAKE_NPM_LOG: log, FAKE_NPM_EXIT: String(exitCode) };
}

export function fakeNpmRuns(log: string): Array<{ cwd: string; args: string[] }> {
  if (!existsSync(log)) return [];
  return read(log)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

export interface Exec {
  code: number;
  output: string;
}

/** Run a command to completion (CI-friendly: no TTY, colours off). */
export function exec(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Exec> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...cleanEnv(), NO_COLOR: '1', FORCE_COLOR: '0', CI: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.on('error', (err) => resolvePromise({ code: 127, output: output + err.message }));
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

/** npm's error codes for a registry it cannot reach (DNS, refused, reset, timeouts, offline cache miss). */
const UNREACHABLE =
  /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ENOTCACHED)\b/;

/** The network error code when npm's output says the registry could not be reached, else undefined. */
export function registryUnreachable(npmOutput: string): string | undefined {
  return UNREACHABLE.exec(npmOutput)?.[1];
}
