import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from './errors.js';
import { formatJson, hashTree, readTree, removeQuietly, writeFileEnsuringDir } from './fsutil.js';
import type { Answers } from './templates.js';

export const FLEET_FILE = '.fleet.json';
/** Pristine render of the template at the recorded version and answers: the base of three-way merges. */
export const BASE_DIR = '.fleet/base';
/** Suffix of snapshot files, so that no tool (tsc, Biome, vitest, npm) mistakes them for sources. */
export const BASE_SUFFIX = '.base';

/** `.fleet.json`: what a service was generated from and which chassis it is on. */
export interface FleetRecord {
  $comment?: string;
  /** create-service version that last wrote this file. */
  generator: string;
  template: {
    name: string;
    version: string;
    /** Content hash of the template's source files (template.json, layers, partials). */
    hash: string;
  };
  /** Content hash of the pristine render kept in .fleet/base/. */
  baseHash: string;
  /** Chassis version the service is on (in the monorepo the dependency itself stays "*"). */
  chassisVersion: string;
  answers: Answers;
  /** Chassis migrations applied to this service, in order. */
  migrations: string[];
}

export async function readFleetRecord(serviceDir: string): Promise<FleetRecord> {
  const file = join(serviceDir, FLEET_FILE);
  let record: FleetRecord;
  try {
    record = JSON.parse(await readFile(file, 'utf8')) as FleetRecord;
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  if (!record.template?.name || !record.template.version || !record.answers?.name || !record.chassisVersion)
    throw new CliError(`${file}: missing template, answers or chassisVersion`);
  record.migrations ??= [];
  return record;
}

export function isFleetService(dir: string): boolean {
  return existsSync(join(dir, FLEET_FILE));
}

export async function writeFleetRecord(serviceDir: string, record: FleetRecord): Promise<void> {
  const ordered: FleetRecord = {
    $comment: 'Written by create-service (generate/upgrade). Do not edit by hand.',
    generator: record.generator,
    template: record.template,
    baseHash: record.baseHash,
    chassisVersion: record.chassisVersion,
    answers: record.answers,
    migrations: record.migrations,
  };
  await writeFile(join(serviceDir, FLEET_FILE), formatJson(ordered));
}

export const BASE_README = `# .fleet/base

Pristine render of this service's template, at the template version and answers recorded in
\`../.fleet.json\`. \`create-service upgrade\` uses it as the common ancestor of a three-way merge
between your files and a fresh render of the new template version; \`create-service status\`
compares your files with it to report drift. Files carry a \`${BASE_SUFFIX}\` suffix so that no
tool treats them as sources. Commit this folder; do not edit it.
`;

/** Replace the snapshot with `tree` (paths without suffix). */
export async function writeBase(serviceDir: string, tree: ReadonlyMap<string, string>): Promise<void> {
  const dir = join(serviceDir, BASE_DIR);
  await removeQuietly(dir);
  for (const [path, content] of tree) await writeFileEnsuringDir(join(dir, path + BASE_SUFFIX), content);
  await writeFile(join(serviceDir, '.fleet/README.md'), BASE_README);
}

/** The snapshot as path → content (suffix stripped). */
export async function readBase(serviceDir: string): Promise<Map<string, string>> {
  const raw = await readTree(join(serviceDir, BASE_DIR), { ignoreDirs: new Set() });
  const tree = new Map<string, string>();
  for (const [path, content] of raw)
    if (path.endsWith(BASE_SUFFIX)) tree.set(path.slice(0, -BASE_SUFFIX.length), content);
  return tree;
}

export { hashTree as baseHashOf };
