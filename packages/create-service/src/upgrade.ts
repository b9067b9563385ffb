import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import semver from 'semver';
import { CliError } from './errors.js';
import { discoverFleet, type ServiceRef, targetChassis } from './fleet.js';
import { BASE_DIR, type FleetRecord, readBase, writeBase, writeFleetRecord } from './fleet-file.js';
import { hashTree, readTree, removeQuietly, writeFileEnsuringDir } from './fsutil.js';
import { type Io, npmCommand, run } from './io.js';
import { mergeFile, unifiedDiff } from './merge.js';
import { loadMigrations, type Migration, migrationsBetween } from './migrations.js';
import {
  type Answers,
  loadTemplate,
  renderTemplate,
  resolveTemplatesDir,
  templateHash,
} from './templates.js';
import { GENERATOR } from './version.js';

export interface UpgradeOptions {
  /** Chassis version to move to (default: the monorepo's / installed chassis). */
  to?: string;
  /** Only these services (names or folders). */
  services?: string[];
  /** Print the changes as a unified diff; write nothing. */
  dryRun?: boolean;
  /** Run each upgraded service's tests afterwards. */
  test?: boolean;
  templatesDir?: string;
  /** Migrations folder override (default: the chassis's migrations/). */
  migrationsDir?: string;
}

export interface FileChange {
  path: string;
  before: string | undefined;
  after: string | undefined;
  conflict: boolean;
}

export interface ServicePlan {
  service: ServiceRef;
  upToDate: boolean;
  from: { template: string; chassis: string };
  to: { template: string; chassis: string };
  changes: FileChange[];
  /** Files with conflicts (markers written, or deleted locally while the template changed them). */
  conflicts: string[];
  notes: string[];
  migrations: Migration[];
  newBase: Map<string, string>;
  newRecord: FleetRecord;
}

export interface ServiceResult {
  service: string;
  status: 'up-to-date' | 'upgraded' | 'conflicts' | 'failed' | 'planned';
  from: { template: string; chassis: string };
  to: { template: string; chassis: string };
  changed: string[];
  conflicts: string[];
  migrations: string[];
  error?: string;
  tests?: 'passed' | 'failed' | 'skipped';
}

const ANSWER_DEFAULTS: Answers = {
  name: '',
  description: 'A Fleet service',
  port: 3000,
  dir: 'services',
  standalone: false,
  flags: false,
};

async function readOurs(dir: string, path: string): Promise<string | undefined> {
  const file = join(dir, path);
  return existsSync(file) ? readFile(file, 'utf8') : undefined;
}

/** Work out what upgrading one service means, without writing anything. */
export async function planUpgrade(
  service: ServiceRef,
  root: string | null,
  options: UpgradeOptions,
  cwd: string,
): Promise<ServicePlan> {
  const { record, dir } = service;
  const templatesDir = resolveTemplatesDir(options.templatesDir, root, cwd);
  const template = loadTemplate(templatesDir, record.template.name);
  const hash = await templateHash(template);
  const target = targetChassis(root, dir, options.to);
  if (semver.lt(target.version, record.chassisVersion))
    throw new CliError(
      `${service.label} is on chassis ${record.chassisVersion}; upgrading to ${target.version} would downgrade it`,
    );
  if (semver.lt(template.meta.version, record.template.version))
    throw new CliError(
      `${service.label} was generated from ${record.template.name}@${record.template.version}, newer than the templates here (${template.meta.version})`,
    );
  const from = { template: record.template.version, chassis: record.chassisVersion };
  const to = { template: template.meta.version, chassis: target.version };
  const migrationsDir = options.migrationsDir
    ? resolve(cwd, options.migrationsDir)
    : target.chassis?.migrationsDir;
  const migrations = migrationsBetween(
    await loadMigrations(migrationsDir ?? null),
    record.chassisVersion,
    target.version,
  );

  const upToDate = hash === record.template.hash && semver.eq(target.version, record.chassisVersion);
  const plan: ServicePlan = {
    service,
    upToDate,
    from,
    to,
    changes: [],
    conflicts: [],
    notes: [],
    migrations,
    newBase: new Map(),
    newRecord: record,
  };
  if (upToDate) return plan;

  const base = await readBase(dir);
  if (base.size === 0)
    throw new CliError(
      `${service.label}: ${BASE_DIR}/ is missing, so local changes cannot be told from template ones; restore it from version control`,
    );
  if (record.baseHash && hashTree(base) !== record.baseHash)
    plan.notes.push(`${BASE_DIR}/ differs from the render recorded in .fleet.json (edited by hand?)`);

  const answers: Answers = { ...ANSWER_DEFAULTS, ...record.answers };
  const theirs = await renderTemplate(template, answers, target.version);
  const labels = { ours: 'local', theirs: `template ${template.meta.name}@${template.meta.version}` };
  const paths = [...new Set([...base.keys(), ...theirs.keys()])].sort();
  for (const path of paths) {
    const b = base.get(path);
    const t = theirs.get(path);
    if (b === t) continue;
    const o = await readOurs(dir, path);
    if (b === undefined) {
      // New in the template
      if (o === undefined) plan.changes.push({ path, before: undefined, after: t, conflict: false });
      else if (o !== t) {
        const merged = mergeFile(o, '', t!, labels);
        plan.changes.push({ path, before: o, after: merged.text, conflict: merged.conflict });
        if (merged.conflict) plan.conflicts.push(path);
      }
    } else if (t === undefined) {
      // Removed from the template: removed here only if unmodified
      if (o === b) plan.changes.push({ path, before: o, after: undefined, conflict: false });
      else if (o !== undefined)
        plan.notes.push(`${path}: removed from the template but modified locally, kept`);
    } else if (o === undefined) {
      plan.conflicts.push(path);
      plan.notes.push(
        `${path}: deleted locally but changed in the template; left deleted (compare with ${BASE_DIR}/)`,
      );
    } else {
      const merged = mergeFile(o, b, t, labels);
      if (merged.text !== o)
        plan.changes.push({ path, before: o, after: merged.text, conflict: merged.conflict });
      if (merged.conflict) plan.conflicts.push(path);
    }
  }

  // Standalone services depend on a version range of the published chassis: keep it current.
  if (answers.standalone) {
    const pkgChange = plan.changes.find((c) => c.path === 'package.json');
    const current = pkgChange ? pkgChange.after : await readOurs(dir, 'package.json');
    if (current !== undefined && !(pkgChange?.conflict ?? false)) {
      const bumped = current.replace(/("@fleet\/chassis"\s*:\s*)"[^"]*"/, `$1"^${target.version}"`);
      if (bumped !== current) {
        if (pkgChange) pkgChange.after = bumped;
        else plan.changes.push({ path: 'package.json', before: current, after: bumped, conflict: false });
      }
    }
  }

  plan.newBase = theirs;
  plan.newRecord = {
    ...record,
    generator: GENERATOR,
    template: { name: template.meta.name, version: template.meta.version, hash },
    baseHash: hashTree(theirs),
    chassisVersion: target.version,
    answers,
    migrations: [...record.migrations, ...migrations.map((m) => m.version)],
  };
  return plan;
}

function describe(plan: ServicePlan): string {
  const { from, to } = plan;
  const parts = [
    from.template === to.template
      ? `template ${plan.service.record.template.name}@${to.template}`
      : `template ${plan.service.record.template.name} ${from.template} → ${to.template}`,
    from.chassis === to.chassis ? `chassis ${to.chassis}` : `chassis ${from.chassis} → ${to.chassis}`,
  ];
  return `${plan.service.label}: ${parts.join(', ')}`;
}

function changeLine(change: FileChange): string {
  const kind = change.conflict
    ? 'C'
    : change.before === undefined
      ? 'A'
      : change.after === undefined
        ? 'D'
        : 'M';
  return `  ${kind} ${change.path}${change.conflict ? '  (conflict: resolve the <<<<<<< markers)' : ''}`;
}

/** Apply a plan: write the merged files and the new base, run migrations, record the new state. */
async function applyPlan(plan: ServicePlan, io: Io): Promise<string[]> {
  const { dir } = plan.service;
  // Everything but dependencies and build output, to roll back to if a migration fails.
  const snapshot = await readTree(dir);
  try {
    for (const change of plan.changes) {
      const file = join(dir, change.path);
      if (change.after === undefined) await rm(file, { force: true });
      else await writeFileEnsuringDir(file, change.after);
    }
    await writeBase(dir, plan.newBase);
    const ran: string[] = [];
    for (const migration of plan.migrations) {
      io.stdout(`  migration ${migration.version}: ${migration.description}\n`);
      await migration.migrate(dir, { dryRun: false, log: (m) => io.stdout(`    ${m}\n`) });
      ran.push(migration.version);
    }
    await writeFleetRecord(dir, plan.newRecord);
    return ran;
  } catch (err) {
    const now = await readTree(dir);
    for (const path of now.keys()) if (!snapshot.has(path)) await removeQuietly(join(dir, path));
    for (const [path, content] of snapshot)
      if (now.get(path) !== content) await writeFile(join(dir, path), content);
    throw err;
  }
}

export interface UpgradeReport {
  results: ServiceResult[];
  exitCode: number;
}

export async function upgrade(options: UpgradeOptions, io: Io): Promise<UpgradeReport> {
  const fleet = await discoverFleet(io, options.services);
  if (fleet.services.length === 0) {
    io.stdout('No generated services found (services have a .fleet.json).\n');
    return { results: [], exitCode: 0 };
  }
  const results: ServiceResult[] = [];
  for (const service of fleet.services) {
    const result: ServiceResult = {
      service: service.label,
      status: 'up-to-date',
      from: { template: service.record.template.version, chassis: service.record.chassisVersion },
      to: { template: service.record.template.version, chassis: service.record.chassisVersion },
      changed: [],
      conflicts: [],
      migrations: [],
    };
    results.push(result);
    try {
      const plan = await planUpgrade(service, fleet.root, options, io.cwd);
      result.from = plan.from;
      result.to = plan.to;
      if (plan.upToDate) {
        io.stdout(`${describe(plan)}: up to date\n`);
        continue;
      }
      io.stdout(`${describe(plan)}${options.dryRun ? ' (dry run)' : ''}\n`);
      for (const change of plan.changes) io.stdout(`${changeLine(change)}\n`);
      for (const path of plan.conflicts.filter((p) => !plan.changes.some((c) => c.path === p)))
        io.stdout(`  C ${path}  (conflict)\n`);
      for (const note of plan.notes) io.stdout(`  note: ${note}\n`);
      result.changed = plan.changes.map((c) => c.path);
      result.conflicts = plan.conflicts;
      if (options.dryRun) {
        result.status = 'planned';
        for (const migration of plan.migrations) {
          io.stdout(`  migration ${migration.version}: ${migration.description} (would run)\n`);
          await migration.migrate(service.dir, { dryRun: true, log: (m) => io.stdout(`    ${m}\n`) });
        }
        result.migrations = plan.migrations.map((m) => m.version);
        for (const change of plan.changes)
          io.stdout(
            unifiedDiff(
              change.before,
              change.after,
              `a/${service.label}/${change.path}`,
              `b/${service.label}/${change.path}`,
            ),
          );
        continue;
      }
      result.migrations = await applyPlan(plan, io);
      result.status = plan.conflicts.length > 0 ? 'conflicts' : 'upgraded';
    } catch (err) {
      result.status = 'failed';
      result.error = err instanceof CliError ? err.message : String((err as Error).stack ?? err);
      io.stderr(`${service.label}: upgrade failed: ${result.error}\n`);
    }
  }

  if (options.test && !options.dryRun) {
    for (const result of results.filter((r) => r.status === 'upgraded' || r.status === 'conflicts')) {
      const service = fleet.services.find((s) => s.label === result.service)!;
      io.stdout(`\n${result.service}: npm test\n`);
      const test = await run(npmCommand(io), ['test'], service.dir, io);
      result.tests = test.code === 0 ? 'passed' : 'failed';
    }
  }

  const upgraded = results.filter((r) => r.status === 'upgraded' || r.status === 'conflicts');
  io.stdout(
    `\n${options.dryRun ? 'Dry run: ' : ''}${results.length} service(s): ` +
      `${upgraded.length} upgraded, ${results.filter((r) => r.status === 'planned').length} to upgrade, ` +
      `${results.filter((r) => r.status === 'up-to-date').length} up to date, ` +
      `${results.filter((r) => r.status === 'failed').length} failed\n`,
  );
  if (options.test && !options.dryRun && upgraded.length > 0) {
    io.stdout('Tests:\n');
    for (const r of upgraded) io.stdout(`  ${r.service}: ${r.tests}\n`);
  }
  const conflicted = results.filter((r) => r.conflicts.length > 0);
  if (conflicted.length > 0) {
    io.stderr(
      `${options.dryRun ? 'Would conflict' : 'Conflicts'} (resolve the <<<<<<< ======= >>>>>>> markers, then test):\n` +
        conflicted.flatMap((r) => r.conflicts.map((p) => `  ${r.service}/${p}\n`)).join(''),
    );
  }
  const failed =
    conflicted.length > 0 ||
    results.some((r) => r.status === 'failed') ||
    results.some((r) => r.tests === 'failed');
  return { results, exitCode: failed ? 1 : 0 };
}
