import { parseArgs } from 'node:util';
import { CliError, UsageError } from './errors.js';
import { generate } from './generate.js';
import type { Io } from './io.js';
import { findMonorepoRoot } from './repo.js';
import { status } from './status.js';
import { listTemplateNames, loadTemplate, resolveTemplatesDir } from './templates.js';
import { upgrade } from './upgrade.js';
import { CREATE_SERVICE_VERSION } from './version.js';

export const HELP = `create-service ${CREATE_SERVICE_VERSION}: generate Fleet services and keep them on the current chassis

Usage:
  create-service <name> --template <kind> [options]   generate a service
  create-service upgrade [options]                    upgrade generated services
  create-service status [--check] [--json]            template/chassis status of every service
  create-service --list-templates

Generate options:
  -t, --template <kind>    template to use (see --list-templates)
      --dir <folder>       parent folder (default: services, relative to the monorepo root;
                           standalone: the current folder)
      --port <n>           default port (default: the lowest free port from 3001)
      --description <text> one-line description
  -y, --yes                accept defaults for answers not given (no prompts)
      --force              replace an existing directory
      --standalone         generate outside the monorepo, depending on the published chassis
      --install            run npm install afterwards (monorepo: at the root)

Upgrade options:
      --to <version>       chassis version to upgrade to (default: the repository's chassis)
      --services <a,b>     only these services
      --dry-run            print the changes as a unified diff; write nothing
      --test               run each upgraded service's tests (npm test) and summarise

Status options:
      --check              exit 1 when any service is behind (for CI)
      --json               machine-readable output

Common options:
      --templates <dir>    templates folder (default: <repo>/templates)
      --migrations <dir>   chassis migrations folder (default: the chassis's migrations/)
  -h, --help               this help
  -v, --version            print the version

Without a terminal, every answer must come from flags (or --yes for defaults).
Exit codes: 0 success, 1 error / conflicts / behind (--check) / failing tests, 2 usage error.
`;

const OPTIONS = {
  template: { type: 'string', short: 't' },
  dir: { type: 'string' },
  port: { type: 'string' },
  description: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  force: { type: 'boolean' },
  standalone: { type: 'boolean' },
  install: { type: 'boolean' },
  'list-templates': { type: 'boolean' },
  to: { type: 'string' },
  services: { type: 'string' },
  'dry-run': { type: 'boolean' },
  test: { type: 'boolean' },
  check: { type: 'boolean' },
  json: { type: 'boolean' },
  templates: { type: 'string' },
  migrations: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const ONLY_FOR: Record<string, Array<keyof Values>> = {
  generate: ['template', 'dir', 'port', 'description', 'yes', 'force', 'standalone', 'install'],
  upgrade: ['to', 'services', 'dry-run', 'test'],
  status: ['check', 'json', 'services', 'to'],
};

function rejectForeignOptions(command: string, values: Values): void {
  const allowed = new Set(ONLY_FOR[command] ?? []);
  for (const [cmd, keys] of Object.entries(ONLY_FOR)) {
    if (cmd === command) continue;
    for (const key of keys)
      if (values[key] !== undefined && !allowed.has(key))
        throw new UsageError(
          `--${key} does not apply to ${command === 'generate' ? 'generating a service' : command}`,
        );
  }
}

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Run the CLI; returns the exit code. Errors the user can act on are printed without a stack. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nRun create-service --help for usage.`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(HELP);
      return 0;
    }
    if (values.version) {
      io.stdout(`${CREATE_SERVICE_VERSION}\n`);
      return 0;
    }
    if (values['list-templates']) {
      const dir = resolveTemplatesDir(values.templates, findMonorepoRoot(io.cwd), io.cwd);
      const names = listTemplateNames(dir);
      const rows = names.map((n) => loadTemplate(dir, n).meta);
      const width = Math.max(0, ...rows.map((m) => `${m.name}@${m.version}`.length));
      for (const m of rows) io.stdout(`${`${m.name}@${m.version}`.padEnd(width)}  ${m.description}\n`);
      return 0;
    }
    const [first, ...rest] = positionals;
    if (first === 'upgrade' || first === 'status') {
      if (rest.length > 0)
        throw new UsageError(`unexpected argument${rest.length > 1 ? 's' : ''}: ${rest.join(' ')}`);
      rejectForeignOptions(first, values);
      if (first === 'status')
        return await status(
          {
            check: values.check,
            json: values.json,
            services: list(values.services),
            templatesDir: values.templates,
            to: values.to,
          },
          io,
        );
      const report = await upgrade(
        {
          to: values.to,
          services: list(values.services),
          dryRun: values['dry-run'],
          test: values.test,
          templatesDir: values.templates,
          migrationsDir: values.migrations,
        },
        io,
      );
      return report.exitCode;
    }
    // `create-service create <name>` also works, e.g. for a service named "status".
    const names = first === 'create' ? rest : positionals;
    if (names.length > 1) throw new UsageError(`expected one service name, got: ${names.join(' ')}`);
    rejectForeignOptions('generate', values);
    await generate(
      {
        name: names[0],
        template: values.template,
        dir: values.dir,
        port: values.port,
        description: values.description,
        yes: values.yes,
        force: values.force,
        standalone: values.standalone,
        install: values.install,
        templatesDir: values.templates,
      },
      io,
    );
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`create-service: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`create-service: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
