import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { toPosix } from './fsutil.js';

interface PackageJson {
  name?: string;
  version?: string;
  workspaces?: string[] | { packages?: string[] };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  config?: { port?: unknown };
}

export function readPackageJson(dir: string): PackageJson | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** The `workspaces` globs of a package.json (array form or `{ packages }`). */
export function workspacePatterns(pkg: PackageJson | undefined): string[] {
  const ws = pkg?.workspaces;
  if (!ws) return [];
  return Array.isArray(ws) ? ws : (ws.packages ?? []);
}

/** Whether a workspace pattern such as `packages/*` matches a relative path such as `packages/chassis`. */
export function matchesWorkspace(pattern: string, path: string): boolean {
  const p = pattern.replace(/^\.\//, '').replace(/\/$/, '').split('/');
  const s = path.split('/');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length;
    if (p[i] === '**') return match(i + 1, j) || (j < s.length && match(i, j + 1));
    if (j === s.length) return false;
    const re = new RegExp(`^${p[i]!.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return re.test(s[j]!) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/**
 * The Fleet monorepo containing `start`: the nearest directory upwards whose package.json declares
 * workspaces that include packages/chassis (and packages/chassis exists). Null outside one.
 */
export function findMonorepoRoot(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    const pkg = readPackageJson(dir);
    const patterns = workspacePatterns(pkg);
    if (
      patterns.some((p) => matchesWorkspace(p, 'packages/chassis')) &&
      existsSync(join(dir, 'packages/chassis/package.json'))
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The directories of every workspace of a monorepo (simple `*` / `**` globs). */
export function workspaceDirs(root: string): string[] {
  const out = new Set<string>();
  for (const pattern of workspacePatterns(readPackageJson(root))) {
    const parts = pattern.replace(/^\.\//, '').replace(/\/$/, '').split('/');
    const expand = (dir: string, i: number): void => {
      if (i === parts.length) {
        if (existsSync(join(dir, 'package.json'))) out.add(dir);
        return;
      }
      const part = parts[i]!;
      if (!part.includes('*')) {
        const next = join(dir, part);
        if (existsSync(next)) expand(next, i + 1);
        return;
      }
      let entries: string[] = [];
      try {
        entries = readdirSync(dir).filter((e) => !e.startsWith('.') && e !== 'node_modules');
      } catch {
        return;
      }
      for (const entry of entries) {
        const next = join(dir, entry);
        if (!statSync(next).isDirectory()) continue;
        if (part === '**') {
          expand(next, i);
          expand(next, i + 1);
        } else if (matchesWorkspace(part, entry)) expand(next, i + 1);
      }
    };
    expand(root, 0);
  }
  return [...out].sort();
}

export interface ChassisInfo {
  /** The chassis version services should be on. */
  version: string;
  /** Where the chassis lives (monorepo package or installed copy), when found. */
  dir: string | null;
  /** Its migrations folder, when it has one. */
  migrationsDir: string | null;
  /** Whether this chassis has the flags module (`service.flags`). */
  hasFlags: boolean;
}

function chassisFrom(dir: string): ChassisInfo | null {
  const pkg = readPackageJson(dir);
  if (!pkg?.version) return null;
  const migrations = join(dir, 'migrations');
  return {
    version: pkg.version,
    dir,
    migrationsDir: existsSync(migrations) ? migrations : null,
    hasFlags: detectFlagsModule(dir),
  };
}

/** The flags module is present when the Service interface has a `flags` member (sources or typings). */
export function detectFlagsModule(chassisDir: string): boolean {
  for (const file of ['src/service.ts', 'dist/service.d.ts']) {
    const path = join(chassisDir, file);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const start = text.indexOf('interface Service<');
    if (start < 0) continue;
    const body = text.slice(start, text.indexOf('\n}', start));
    return /^\s*(readonly\s+)?flags\s*[:?]/m.test(body);
  }
  return false;
}

/**
 * The chassis a service is generated against or upgraded to: the monorepo's packages/chassis, else
 * the copy installed next to the service, else the one create-service itself resolves.
 */
export function resolveChassis(root: string | null, serviceDir?: string): ChassisInfo | null {
  if (root) return chassisFrom(join(root, 'packages/chassis'));
  if (serviceDir) {
    const installed = chassisFrom(join(serviceDir, 'node_modules/@fleet/chassis'));
    if (installed) return installed;
  }
  try {
    const require = createRequire(import.meta.url);
    return chassisFrom(dirname(require.resolve('@fleet/chassis/package.json')));
  } catch {
    // not installed next to create-service either
  }
  const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const own = findMonorepoRoot(packageDir);
  if (own) return chassisFrom(join(own, 'packages/chassis'));
  // Published package: the version its templates were packed with (scripts/prepack.mjs)
  try {
    const packed = JSON.parse(readFileSync(join(packageDir, 'templates/chassis.json'), 'utf8')) as {
      version: string;
      flags?: boolean;
    };
    return { version: packed.version, dir: null, migrationsDir: null, hasFlags: packed.flags ?? false };
  } catch {
    return null;
  }
}

/** The port the chassis listens on when a service declares none. */
export const CHASSIS_DEFAULT_PORT = 3000;

/** Ports a service directory declares: .fleet.json, package.json config, .env files, config, code, manifests. */
export function declaredPorts(dir: string): number[] {
  const ports = new Set<number>();
  const add = (value: unknown) => {
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536) ports.add(n);
  };
  const read = (rel: string): string | undefined => {
    try {
      return readFileSync(join(dir, rel), 'utf8');
    } catch {
      return undefined;
    }
  };
  const fleet = read('.fleet.json');
  if (fleet) {
    try {
      add((JSON.parse(fleet) as { answers?: { port?: unknown } }).answers?.port);
    } catch {
      // a broken .fleet.json is reported by status/upgrade, not here
    }
  }
  add(readPackageJson(dir)?.config?.port);
  for (const env of ['.env', '.env.example']) {
    for (const m of (read(env) ?? '').matchAll(/^\s*(?:export\s+)?PORT\s*=\s*["']?(\d+)/gm)) add(m[1]);
  }
  for (const file of ['config/default.json', 'config/default.yaml', 'config/default.yml', 'config.json']) {
    const text = read(file);
    if (!text) continue;
    try {
      add((parseYaml(text) as { port?: unknown } | null)?.port);
    } catch {
      // not our business
    }
  }
  for (const file of ['src/service.ts', 'src/main.ts', 'src/config.ts']) {
    for (const m of (read(file) ?? '').matchAll(/\bDEFAULT_PORT\s*=\s*(\d+)/g)) add(m[1]);
  }
  for (const m of (read('deploy/k8s/deployment.yaml') ?? '').matchAll(/containerPort:\s*(\d+)/g)) add(m[1]);
  if (ports.size === 0) {
    const pkg = readPackageJson(dir);
    if (pkg?.dependencies?.['@fleet/chassis']) add(CHASSIS_DEFAULT_PORT);
  }
  return [...ports];
}

/** port → the services (relative directories) using it, for every service directory given. */
export function portsInUse(dirs: string[], base: string): Map<number, string[]> {
  const used = new Map<number, string[]>();
  for (const dir of dirs) {
    for (const port of declaredPorts(dir)) {
      const list = used.get(port) ?? [];
      list.push(toPosix(relative(base, dir)) || '.');
      used.set(port, list);
    }
  }
  return used;
}

/** Directories that are services to compare ports against: workspaces, or the siblings of `parent`. */
export function candidateServiceDirs(root: string | null, parent: string): string[] {
  if (root) return workspaceDirs(root);
  if (!existsSync(parent)) return [];
  return readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
    .map((e) => join(parent, e.name))
    .filter((d) => existsSync(join(d, 'package.json')));
}
