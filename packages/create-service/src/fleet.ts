import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import semver from 'semver';
import { CliError } from './errors.js';
import { type FleetRecord, isFleetService, readFleetRecord } from './fleet-file.js';
import { toPosix } from './fsutil.js';
import type { Io } from './io.js';
import { type ChassisInfo, findMonorepoRoot, resolveChassis, workspaceDirs } from './repo.js';

/** A generated service found in the repository. */
export interface ServiceRef {
  dir: string;
  /** Path relative to the monorepo root (or cwd). */
  label: string;
  record: FleetRecord;
}

export interface FleetContext {
  root: string | null;
  /** Directory labels are relative to. */
  base: string;
  services: ServiceRef[];
}

function childDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
    .map((e) => join(dir, e.name));
}

/**
 * Services with a .fleet.json: every workspace of the monorepo; outside one, the current folder if
 * it is a service, else its sub-folders and those of ./services.
 */
export async function discoverFleet(io: Io, only?: string[]): Promise<FleetContext> {
  const root = findMonorepoRoot(io.cwd);
  const base = root ?? io.cwd;
  let dirs: string[];
  if (root) dirs = workspaceDirs(root).filter(isFleetService);
  else if (isFleetService(io.cwd)) dirs = [io.cwd];
  else dirs = [...childDirs(io.cwd), ...childDirs(join(io.cwd, 'services'))].filter(isFleetService);

  let services: ServiceRef[] = [];
  for (const dir of dirs)
    services.push({
      dir,
      label: toPosix(relative(base, dir)) || basename(dir),
      record: await readFleetRecord(dir),
    });
  if (only && only.length > 0) {
    const unknown = only.filter(
      (n) => !services.some((s) => s.record.answers.name === n || basename(s.dir) === n || s.label === n),
    );
    if (unknown.length > 0)
      throw new CliError(
        `unknown service${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (generated services: ${
          services.map((s) => s.record.answers.name).join(', ') || 'none'
        })`,
      );
    services = services.filter((s) =>
      only.some((n) => s.record.answers.name === n || basename(s.dir) === n || s.label === n),
    );
  }
  return { root, base, services };
}

/** The chassis version to upgrade a service to: --to, else the monorepo's (or installed) chassis. */
export function targetChassis(
  root: string | null,
  serviceDir: string,
  to: string | undefined,
): { version: string; chassis: ChassisInfo | null } {
  const chassis = resolveChassis(root, serviceDir);
  if (to !== undefined) {
    const version = semver.valid(to);
    if (!version) throw new CliError(`--to ${to} is not a semantic version`);
    return { version, chassis };
  }
  if (!chassis) throw new CliError(`cannot find @fleet/chassis for ${serviceDir} (pass --to <version>)`);
  return { version: chassis.version, chassis };
}
