import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { CliError } from './errors.js';
import { type FleetRecord, writeBase, writeFleetRecord } from './fleet-file.js';
import { hashTree, removeQuietly, toPosix, writeFileEnsuringDir } from './fsutil.js';
import { type Io, npmCommand, type Question, run } from './io.js';
import {
  candidateServiceDirs,
  findMonorepoRoot,
  matchesWorkspace,
  portsInUse,
  readPackageJson,
  resolveChassis,
  workspacePatterns,
} from './repo.js';
import {
  type Answers,
  listTemplateNames,
  loadTemplate,
  renderTemplate,
  resolveTemplatesDir,
  templateHash,
} from './templates.js';
import { descriptionProblem, nameProblem, parsePort, portProblem } from './validate.js';
import { GENERATOR } from './version.js';

export interface GenerateOptions {
  name?: string;
  template?: string;
  /** Parent folder: relative to the monorepo root (default "services"), or to the cwd when standalone. */
  dir?: string;
  port?: string | number;
  description?: string;
  /** Accept defaults for every answer not given. */
  yes?: boolean;
  /** Replace an existing directory. */
  force?: boolean;
  /** Generate a service outside the monorepo, on the published chassis. */
  standalone?: boolean;
  /** Run `npm install` afterwards (monorepo: at the root; standalone: in the service). */
  install?: boolean;
  /** Templates folder override. */
  templatesDir?: string;
}

export interface GenerateResult {
  dir: string;
  files: string[];
  record: FleetRecord;
}

/** The lowest port from 3001 up that no service uses. */
export function nextFreePort(used: ReadonlyMap<number, string[]>): number {
  let port = 3001;
  while (used.has(port)) port++;
  return port;
}

async function ask(io: Io, questions: Question[]): Promise<Record<string, string>> {
  if (io.prompt) return io.prompt(questions);
  // Loaded only to prompt: node-plop (inquirer) is most of the CLI's start-up time
  const { default: nodePlop } = await import('node-plop');
  const plop = await nodePlop(undefined, { destBasePath: io.cwd, force: false });
  const generator = plop.setGenerator('create-service', {
    description: 'Create a Fleet service',
    prompts: questions,
    actions: [],
  });
  return (await generator.runPrompts()) as Record<string, string>;
}

export async function generate(options: GenerateOptions, io: Io): Promise<GenerateResult> {
  const root = findMonorepoRoot(io.cwd);
  const standalone = Boolean(options.standalone) || root === null;
  const templatesDir = resolveTemplatesDir(options.templatesDir, root, io.cwd);
  const templateNames = listTemplateNames(templatesDir);
  const base = standalone ? io.cwd : root!;
  const dirOption = options.dir ?? (standalone ? '.' : 'services');
  const parent = resolve(base, dirOption);

  const used = portsInUse(candidateServiceDirs(standalone ? null : root, parent), base);

  // Collect answers: given on the command line, else defaults (--yes), else prompts (TTY only).
  let name = options.name;
  let template = options.template;
  let description = options.description;
  let port = options.port === undefined ? undefined : String(options.port);
  const missing: Array<{ flag: string; question: Question }> = [];
  if (name === undefined)
    missing.push({
      flag: '<name>',
      question: {
        type: 'input',
        name: 'name',
        message: 'Service name (lowercase letters, digits, -)',
        validate: (v) => nameProblem(v) ?? true,
      },
    });
  if (template === undefined)
    missing.push({
      flag: '--template',
      question: {
        type: 'list',
        name: 'template',
        message: 'Template',
        choices: templateNames.map((t) => ({ name: t, value: t })),
      },
    });
  const defaultPort = String(nextFreePort(used));
  if (description === undefined && !options.yes)
    missing.push({
      flag: '--description',
      question: {
        type: 'input',
        name: 'description',
        message: 'One-line description',
        default: 'A Fleet service',
        validate: (v) => descriptionProblem(v) ?? true,
      },
    });
  if (port === undefined && !options.yes)
    missing.push({
      flag: '--port',
      question: {
        type: 'input',
        name: 'port',
        message: 'Port (unique in the repo)',
        default: defaultPort,
        validate: (v) =>
          portProblem(parsePort(v)) ??
          (used.has(parsePort(v)) ? `port ${v} is used by ${used.get(parsePort(v))!.join(', ')}` : true),
      },
    });
  if (missing.length > 0) {
    const required = missing.filter((m) => m.flag === '<name>' || m.flag === '--template');
    if (!io.isTTY && (required.length > 0 || !options.yes)) {
      const flags = missing.map((m) => m.flag).join(', ');
      throw new CliError(
        `missing ${flags}: there is no terminal to prompt on, so pass ${missing.length > 1 ? 'them' : 'it'} on the command line` +
          (required.length < missing.length ? ' (or --yes to accept defaults)' : '') +
          '\n  e.g. create-service orders --template base --port 3005 --description "Orders API" --yes',
      );
    }
    const answers = await ask(
      io,
      missing.map((m) => m.question),
    );
    name ??= answers.name;
    template ??= answers.template;
    description ??= answers.description;
    port ??= answers.port;
  }
  description ??= 'A Fleet service';
  port ??= defaultPort;

  // Validate everything before writing anything.
  const nameIssue = nameProblem(name ?? '');
  if (nameIssue) throw new CliError(`invalid service name: ${nameIssue}`);
  const tpl = loadTemplate(templatesDir, template!);
  const portNumber = parsePort(port);
  const portIssue = portProblem(portNumber);
  if (portIssue) throw new CliError(`invalid --port: ${portIssue}`);
  const descriptionIssue = descriptionProblem(description);
  if (descriptionIssue) throw new CliError(`invalid --description: ${descriptionIssue}`);

  const target = join(parent, name!);
  const targetLabel = toPosix(relative(io.cwd, target)) || '.';
  let dirAnswer = '.';
  if (!standalone) {
    const rel = toPosix(relative(root!, parent));
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new CliError(`--dir ${dirOption} is outside the monorepo at ${root}`);
    const patterns = workspacePatterns(readPackageJson(root!));
    const wsRel = toPosix(relative(root!, target));
    if (!patterns.some((p) => matchesWorkspace(p, wsRel)))
      throw new CliError(
        `--dir ${dirOption}: ${wsRel} would not be a workspace (root workspaces: ${patterns.join(', ')})`,
      );
    dirAnswer = rel || '.';
  }
  if (existsSync(target) && !options.force)
    throw new CliError(`${targetLabel} already exists (pass --force to replace it)`);

  const targetRel = toPosix(relative(base, target));
  const clashes = (used.get(portNumber) ?? []).filter((s) => s !== targetRel);
  if (clashes.length > 0)
    throw new CliError(
      `port ${portNumber} is already used by ${clashes.join(', ')} (pick a free one with --port, e.g. ${defaultPort})`,
    );
  if (!standalone) {
    const packageName = `@fleet/${name}`;
    for (const dir of candidateServiceDirs(root, parent)) {
      if (resolve(dir) === resolve(target)) continue;
      if (readPackageJson(dir)?.name === packageName)
        throw new CliError(
          `the package name ${packageName} is already used by ${toPosix(relative(root!, dir))}`,
        );
    }
  }

  const chassis = resolveChassis(standalone ? null : root);
  if (!chassis) throw new CliError('cannot find @fleet/chassis to generate against');

  const answers: Answers = {
    name: name!,
    description,
    port: portNumber,
    dir: dirAnswer,
    standalone,
    flags: chassis.hasFlags,
  };
  const tree = await renderTemplate(tpl, answers, chassis.version);
  const record: FleetRecord = {
    generator: GENERATOR,
    template: { name: tpl.meta.name, version: tpl.meta.version, hash: await templateHash(tpl) },
    baseHash: hashTree(tree),
    chassisVersion: chassis.version,
    answers,
    migrations: [],
  };

  // Atomic: render into a hidden sibling folder, then rename it into place.
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(parent, `.${name}.create-service-${suffix}`);
  const previous = join(parent, `.${name}.replaced-${suffix}`);
  try {
    for (const [path, content] of tree) await writeFileEnsuringDir(join(staging, path), content);
    await writeBase(staging, tree);
    await writeFleetRecord(staging, record);
    if (existsSync(target)) await rename(target, previous);
    await rename(staging, target);
  } catch (err) {
    if (!existsSync(target) && existsSync(previous)) await rename(previous, target);
    throw err;
  } finally {
    await removeQuietly(staging);
    await removeQuietly(previous);
  }

  io.stdout(
    `Created ${targetLabel} from template ${tpl.meta.name}@${tpl.meta.version} ` +
      `(chassis ${chassis.version}${standalone ? ', standalone' : ''}, port ${portNumber}): ${tree.size} files\n`,
  );

  if (options.install) {
    const installDir = standalone ? target : root!;
    const args = standalone
      ? ['install', '--no-package-lock', '--no-audit', '--no-fund']
      : ['install', '--no-audit', '--no-fund'];
    io.stdout(`Running npm ${args.join(' ')} in ${toPosix(relative(io.cwd, installDir)) || '.'}\n`);
    const result = await run(npmCommand(io), args, installDir, io);
    if (result.code !== 0)
      throw new CliError(
        `npm install failed (exit ${result.code}); the service was generated at ${targetLabel}`,
      );
  }

  const cd = toPosix(relative(io.cwd, target)) || '.';
  io.stdout(
    [
      'Next steps:',
      `  cd ${cd}`,
      ...(options.install
        ? []
        : [standalone ? '  npm install --no-package-lock' : '  npm install   # at the repository root']),
      '  npm run build && npm test',
      `  npm start     # listens on PORT (default ${portNumber})`,
      '',
    ].join('\n'),
  );
  return { dir: target, files: [...tree.keys()].sort(), record };
}
