import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { CliError } from './errors.js';

export interface MigrationContext {
  /** Report what would change; write nothing. */
  dryRun: boolean;
  /** One line of progress (what was changed, or what would be). */
  log: (message: string) => void;
}

/** packages/chassis/migrations/<version>.mjs */
export interface Migration {
  version: string;
  description: string;
  migrate(serviceDir: string, context: MigrationContext): void | Promise<void>;
  file: string;
}

/**
 * Every migration in `dir`: files named `<semver>.mjs` (others, such as `_lib.mjs`, are helpers),
 * each exporting `version` (equal to its file name), `description` and `migrate`. Sorted by version.
 */
export async function loadMigrations(dir: string | null): Promise<Migration[]> {
  if (!dir || !existsSync(dir)) return [];
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.mjs')) continue;
    const version = file.slice(0, -4);
    if (!semver.valid(version)) continue;
    const path = join(dir, file);
    const mod = (await import(pathToFileURL(path).href)) as Partial<Migration> & {
      default?: Partial<Migration>;
    };
    const m = mod.migrate ? mod : (mod.default ?? {});
    if (m.version !== version || typeof m.description !== 'string' || typeof m.migrate !== 'function')
      throw new CliError(
        `${path}: a migration exports version (equal to its file name, '${version}'), description and migrate()`,
      );
    migrations.push({ version, description: m.description, migrate: m.migrate.bind(m), file: path });
  }
  return migrations.sort((a, b) => semver.compare(a.version, b.version));
}

/** Migrations with from < version <= to, in order. */
export function migrationsBetween(all: Migration[], from: string, to: string): Migration[] {
  return all.filter((m) => semver.gt(m.version, from) && semver.lte(m.version, to));
}
