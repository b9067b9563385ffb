import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { discoverFleet, targetChassis } from './fleet.js';
import { readBase } from './fleet-file.js';
import { hashTree } from './fsutil.js';
import type { Io } from './io.js';
import { hasConflictMarkers } from './merge.js';
import { loadTemplate, resolveTemplatesDir, templateHash } from './templates.js';

export interface ServiceStatus {
  service: string;
  name: string;
  template: string;
  templateVersion: string;
  latestTemplateVersion: string | null;
  /** The template's files changed since generation (same version or not). */
  templateChanged: boolean;
  chassisVersion: string;
  targetChassisVersion: string | null;
  behind: boolean;
  /** Template files edited or deleted locally, compared with the pristine render in .fleet/base. */
  drift: string[];
  /** Files still holding conflict markers from an upgrade. */
  conflicts: string[];
  problems: string[];
}

export interface StatusOptions {
  json?: boolean;
  check?: boolean;
  services?: string[];
  templatesDir?: string;
  to?: string;
}

export async function collectStatus(options: StatusOptions, io: Io): Promise<ServiceStatus[]> {
  const fleet = await discoverFleet(io, options.services);
  const statuses: ServiceStatus[] = [];
  for (const { dir, label, record } of fleet.services) {
    const status: ServiceStatus = {
      service: label,
      name: record.answers.name,
      template: record.template.name,
      templateVersion: record.template.version,
      latestTemplateVersion: null,
      templateChanged: false,
      chassisVersion: record.chassisVersion,
      targetChassisVersion: null,
      behind: false,
      drift: [],
      conflicts: [],
      problems: [],
    };
    try {
      const template = loadTemplate(
        resolveTemplatesDir(options.templatesDir, fleet.root, io.cwd),
        record.template.name,
      );
      status.latestTemplateVersion = template.meta.version;
      status.templateChanged = (await templateHash(template)) !== record.template.hash;
    } catch (err) {
      status.problems.push((err as Error).message);
    }
    try {
      status.targetChassisVersion = targetChassis(fleet.root, dir, options.to).version;
    } catch (err) {
      status.problems.push((err as Error).message);
    }
    status.behind =
      status.templateChanged ||
      (status.latestTemplateVersion !== null &&
        semver.lt(record.template.version, status.latestTemplateVersion)) ||
      (status.targetChassisVersion !== null && semver.lt(record.chassisVersion, status.targetChassisVersion));

    const base = await readBase(dir);
    if (base.size === 0) status.problems.push('.fleet/base/ is missing: drift and upgrades need it');
    else if (record.baseHash && hashTree(base) !== record.baseHash)
      status.problems.push('.fleet/base/ differs from the render recorded in .fleet.json');
    for (const [path, pristine] of base) {
      const file = join(dir, path);
      if (!existsSync(file)) {
        status.drift.push(`${path} (deleted)`);
        continue;
      }
      const ours = await readFile(file, 'utf8');
      if (ours !== pristine) status.drift.push(path);
      if (hasConflictMarkers(ours)) status.conflicts.push(path);
    }
    statuses.push(status);
  }
  return statuses;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function status(options: StatusOptions, io: Io): Promise<number> {
  const statuses = await collectStatus(options, io);
  const behind = statuses.filter((s) => s.behind);
  if (options.json) {
    io.stdout(`${JSON.stringify({ services: statuses, behind: behind.length }, null, 2)}\n`);
  } else if (statuses.length === 0) {
    io.stdout('No generated services found (services have a .fleet.json).\n');
  } else {
    const rows = [['SERVICE', 'TEMPLATE', 'VERSION', 'CHASSIS', 'BEHIND', 'DRIFT']];
    for (const s of statuses) {
      const version =
        s.latestTemplateVersion && s.latestTemplateVersion !== s.templateVersion
          ? `${s.templateVersion} → ${s.latestTemplateVersion}`
          : s.templateChanged
            ? `${s.templateVersion} (template changed)`
            : s.templateVersion;
      const chassis =
        s.targetChassisVersion && s.targetChassisVersion !== s.chassisVersion
          ? `${s.chassisVersion} → ${s.targetChassisVersion}`
          : s.chassisVersion;
      const drift =
        s.drift.length === 0
          ? 'none'
          : `${s.drift.length} file${s.drift.length > 1 ? 's' : ''}${s.conflicts.length ? `, ${s.conflicts.length} conflicted` : ''}`;
      rows.push([s.service, s.template, version, chassis, s.behind ? 'yes' : 'no', drift]);
    }
    io.stdout(`${table(rows)}\n`);
    for (const s of statuses) for (const p of s.problems) io.stderr(`${s.service}: ${p}\n`);
  }
  if (options.check && behind.length > 0) {
    if (!options.json)
      io.stderr(
        `${behind.length} service(s) behind: ${behind.map((s) => s.service).join(', ')} (run create-service upgrade)\n`,
      );
    return 1;
  }
  return 0;
}
