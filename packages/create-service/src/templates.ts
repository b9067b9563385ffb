import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import nodePlop, { type CustomActionConfig } from 'node-plop';
import semver from 'semver';
import { CliError } from './errors.js';
import { hashTree, listFiles, readTree } from './fsutil.js';
import { findMonorepoRoot } from './repo.js';

/** templates/<name>/template.json */
export interface TemplateMeta {
  name: string;
  version: string;
  description: string;
  /** Layers rendered before this template's own files (later layers win), e.g. ["_shared"]. */
  layers?: string[];
  /** The service's own settings: drive .env.example, the ConfigMap, the Secret refs and the README. */
  config?: Array<{ env: string; default?: string; doc: string; secret?: boolean }>;
  /** What the bearer token `npm run dev` prints carries. */
  token?: { scopes?: string[]; roles?: string[] };
  /** Initial content of the flags ConfigMap (names get the `<service>.` prefix). */
  flags?: Record<string, unknown>;
}

export interface Template {
  meta: TemplateMeta;
  /** templates/<name> */
  dir: string;
  /** The templates folder it came from. */
  templatesDir: string;
  /** Layer directories in render order; the template itself is last. */
  layerDirs: string[];
}

/** What a service was generated with; recorded in .fleet.json and replayed on upgrade. */
export interface Answers {
  name: string;
  description: string;
  port: number;
  /** Parent folder of the service, relative to the monorepo root ("services"); "." when standalone. */
  dir: string;
  standalone: boolean;
  /** The chassis had the flags module at generation time. */
  flags: boolean;
}

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** --templates, else <monorepo>/templates, else templates bundled in the package, else this repo's. */
export function resolveTemplatesDir(explicit: string | undefined, root: string | null, cwd: string): string {
  if (explicit) {
    const dir = resolve(cwd, explicit);
    if (!existsSync(dir)) throw new CliError(`templates folder not found: ${dir}`);
    return dir;
  }
  const candidates = [
    root ? join(root, 'templates') : null,
    join(PACKAGE_DIR, 'templates'),
    (() => {
      const own = findMonorepoRoot(PACKAGE_DIR);
      return own ? join(own, 'templates') : null;
    })(),
  ];
  for (const dir of candidates) if (dir && existsSync(dir)) return dir;
  throw new CliError('no templates folder found (pass --templates <dir>)');
}

/** Template names: folders with a template.json that do not start with `_` or `.`. */
export function listTemplateNames(templatesDir: string): string[] {
  return readdirSync(templatesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !/^[_.]/.test(e.name))
    .filter((e) => existsSync(join(templatesDir, e.name, 'template.json')))
    .map((e) => e.name)
    .sort();
}

export function loadTemplate(templatesDir: string, name: string): Template {
  const dir = join(templatesDir, name);
  const metaFile = join(dir, 'template.json');
  if (/^[_.]/.test(name) || !existsSync(metaFile)) {
    const known = listTemplateNames(templatesDir);
    throw new CliError(`unknown template '${name}' (available: ${known.join(', ') || 'none'})`);
  }
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as TemplateMeta;
  if (!semver.valid(meta.version))
    throw new CliError(`${metaFile}: version '${meta.version}' is not a semantic version`);
  const layerDirs = [...(meta.layers ?? []).map((layer) => join(templatesDir, layer)), dir];
  for (const layer of layerDirs)
    if (!existsSync(layer)) throw new CliError(`${metaFile}: layer folder ${layer} not found`);
  return { meta: { ...meta, name }, dir, templatesDir, layerDirs };
}

/** Every source file of a template (template.json, its layers' files and partials), keyed by stable names. */
export async function templateSources(template: Template): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  sources.set('template.json', readFileSync(join(template.dir, 'template.json'), 'utf8'));
  for (const layer of template.layerDirs) {
    const layerName = posix.basename(layer);
    for (const sub of ['files', 'partials']) {
      const tree = await readTree(join(layer, sub), { ignoreDirs: new Set() });
      for (const [path, content] of tree) sources.set(`${layerName}/${sub}/${path}`, content);
    }
  }
  return sources;
}

/** The content hash of a template: changes whenever any file that shapes its output changes. */
export async function templateHash(template: Template): Promise<string> {
  return hashTree(await templateSources(template));
}

/** DNS label → metric-name-safe prefix: `orders-api` → `orders_api`. */
export function metricPrefix(name: string): string {
  return name.replace(/-/g, '_');
}

/** The data templates render with (documented in templates/README.md). */
export function templateData(
  template: Template,
  answers: Answers,
  chassisVersion: string,
): Record<string, unknown> {
  const serviceDir = answers.standalone ? '.' : posix.join(answers.dir, answers.name);
  const depth = serviceDir === '.' ? 0 : serviceDir.split('/').length;
  return {
    ...answers,
    packageName: `@fleet/${answers.name}`,
    templateName: template.meta.name,
    templateVersion: template.meta.version,
    monorepo: !answers.standalone,
    serviceDir,
    rootRel: depth === 0 ? '.' : Array(depth).fill('..').join('/'),
    chassisVersion,
    chassisRange: answers.standalone ? `^${chassisVersion}` : '*',
    hasFlags: answers.flags,
    metricPrefix: metricPrefix(answers.name),
    config: (template.meta.config ?? []).map((c) => ({
      env: c.env,
      doc: c.doc,
      value: c.default ?? '',
      secret: c.secret ?? false,
    })),
    demoScopes: template.meta.token?.scopes ?? ['admin'],
    demoRoles: template.meta.token?.roles ?? [],
    // Flag names are service-scoped: `<service>.<flag>`
    flagsJson: JSON.stringify(
      Object.fromEntries(
        Object.entries(template.meta.flags ?? {}).map(([k, v]) => [`${answers.name}.${k}`, v]),
      ),
    ),
  };
}

/** A TypeScript string literal quoted the way Biome formats it (single quotes unless that needs more escapes). */
export function tsString(value: string): string {
  const singles = value.split("'").length - 1;
  const doubles = value.split('"').length - 1;
  const quote = singles > doubles ? '"' : "'";
  return `${quote}${value.replace(/\\/g, '\\\\').replaceAll(quote, `\\${quote}`)}${quote}`;
}

function createHandlebars(template: Template): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('tsString', (value: unknown) => tsString(String(value)));
  hb.registerHelper(
    'tsArray',
    (value: unknown) => `[${(value as unknown[]).map((v) => tsString(String(v))).join(', ')}]`,
  );
  for (const layer of template.layerDirs) {
    const dir = join(layer, 'partials');
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.hbs')))
      hb.registerPartial(file.slice(0, -4), readFileSync(join(dir, file), 'utf8'));
  }
  return hb;
}

/** One file to render: where it goes (relative, `.hbs` stripped) and its source. */
interface RenderFile {
  path: string;
  templateFile: string;
}

async function renderPlan(template: Template): Promise<RenderFile[]> {
  const byPath = new Map<string, RenderFile>();
  for (const layer of template.layerDirs) {
    const filesDir = join(layer, 'files');
    for (const rel of await listFiles(filesDir, { ignoreDirs: new Set() })) {
      if (!rel.endsWith('.hbs'))
        throw new CliError(`template file ${join(filesDir, rel)} must end in .hbs (so linters skip it)`);
      byPath.set(rel.slice(0, -4), { path: rel.slice(0, -4), templateFile: join(filesDir, rel) });
    }
  }
  return [...byPath.values()];
}

/**
 * Render a template in memory: path → content. Runs as a node-plop generator whose actions render
 * each file with Handlebars (strict: an unknown variable is an error; no HTML escaping: the output
 * is code). A file that renders to nothing but whitespace is left out, so a file can be conditional.
 */
export async function renderTemplate(
  template: Template,
  answers: Answers,
  chassisVersion: string,
): Promise<Map<string, string>> {
  const hb = createHandlebars(template);
  const data = templateData(template, answers, chassisVersion);
  const output = new Map<string, string>();
  const plop = await nodePlop(undefined, { destBasePath: template.dir, force: false });
  plop.setActionType('fleet-render', (_answers, config: CustomActionConfig<string>) => {
    const file = config.file as RenderFile;
    let path: string;
    let text: string;
    try {
      path = hb.compile(file.path, { strict: true, noEscape: true })(data);
      text = hb.compile(readFileSync(file.templateFile, 'utf8'), { strict: true, noEscape: true })(data);
    } catch (err) {
      throw new Error(`${file.templateFile}: ${(err as Error).message}`);
    }
    if (text.trim() === '') return `${path} (empty: skipped)`;
    output.set(path, text);
    return path;
  });
  const plan = await renderPlan(template);
  plop.setGenerator(template.meta.name, {
    description: template.meta.description,
    prompts: [],
    actions: plan.map((file) => ({ type: 'fleet-render', file, abortOnFail: true })),
  });
  const { failures } = await plop.getGenerator(template.meta.name).runActions(data);
  if (failures.length > 0) {
    const first = failures[0]!;
    throw new CliError(`rendering template '${template.meta.name}' failed: ${first.error || first.message}`);
  }
  return output;
}
