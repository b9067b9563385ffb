#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatPercent, isValidFlagName, parseFlagValue } from '../flags/model.js';

const USAGE = `Usage: fleet-flags <command> [options]

Commands:
  list                       all flags of the service
  get <name>                 one flag
  set <name> <value>         change a flag; value in basis points (0..10000) or a percentage (25%, 0.5%),
                             or on/off
  delete <name>              remove a flag from the store (it falls back to its code default)

Options:
  --url, -u <url>            the service's admin address (or FLEET_URL)
  --token, -t <token>        bearer token with the admin scope (or FLEET_TOKEN)
  --description <text>       set: the flag's description
  --owner <team>             set: the flag's owner
  --json                     print JSON instead of a table
  --timeout <ms>             request timeout (default 10000)
  --help, -h
`;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

interface Item {
  name: string;
  value: number;
  source: string;
  store_value?: number | null;
  default?: number | null;
  override?: number | null;
  description?: string;
  owner?: string;
  updated_at?: string | null;
  updated_by?: string | null;
  previous?: number | null;
}

function describeError(method: string, url: string, status: number, body: unknown): string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  let text = `${method} ${url}: HTTP ${status}`;
  if (typeof b.message === 'string') text += `: ${b.message}`;
  if (typeof b.code === 'string') text += ` (${b.code})`;
  if (Array.isArray(b.details)) {
    for (const detail of b.details as Array<Record<string, unknown>>)
      text += `\n  - ${detail.path}: ${detail.message}`;
  }
  return text;
}

async function call(
  method: string,
  url: string,
  token: string,
  timeoutMs: number,
  body?: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) throw new CliError(describeError(method, url, response.status, parsed));
  return parsed;
}

function showValue(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${value} (${formatPercent(value)})`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function listTable(items: Item[]): string {
  const rows = [['NAME', 'VALUE', 'PERCENT', 'SOURCE', 'OWNER', 'UPDATED', 'BY', 'DESCRIPTION']];
  for (const item of items) {
    rows.push([
      item.name,
      String(item.value),
      formatPercent(item.value),
      item.source,
      item.owner || '-',
      item.updated_at ?? '-',
      item.updated_by ?? '-',
      item.description ?? '',
    ]);
  }
  return table(rows);
}

function detail(item: Item): string {
  return table([
    ['name', item.name],
    ['value', showValue(item.value)],
    ['source', item.source],
    ['store value', showValue(item.store_value)],
    ['default', showValue(item.default)],
    ['override', showValue(item.override)],
    ['owner', item.owner || '-'],
    ['description', item.description || '-'],
    ['updated at', item.updated_at ?? '-'],
    ['updated by', item.updated_by ?? '-'],
  ]);
}

function flagName(name: string | undefined): string {
  if (!name) throw new CliError(`missing flag name\n\n${USAGE}`, 2);
  if (!isValidFlagName(name))
    throw new CliError(`invalid flag name '${name}': use 1-128 characters of a-z, 0-9, '_', '.', '-'`, 2);
  return name;
}

/** Run the CLI; resolves with the exit code (0 ok, 1 request failed, 2 usage error). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (err) {
      throw new CliError(`${(err as Error).message}\n\n${USAGE}`, 2);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    const [command, ...rest] = positionals;
    if (!command) throw new CliError(USAGE, 2);
    const base = (values.url ?? io.env.FLEET_URL ?? '').replace(/\/+$/, '');
    if (!base) throw new CliError('no service URL: pass --url or set FLEET_URL', 2);
    if (!/^https?:\/\//.test(base)) throw new CliError(`--url must be an http(s) URL, got '${base}'`, 2);
    const token = values.token ?? io.env.FLEET_TOKEN ?? '';
    const timeout = Number(values.timeout ?? 10_000);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new CliError('--timeout must be a positive number', 2);
    const root = `${base}/admin/flags`;
    const print = (body: unknown, human: () => string) =>
      io.stdout(`${values.json ? JSON.stringify(body, null, 2) : human()}\n`);

    switch (command) {
      case 'list': {
        const body = (await call('GET', root, token, timeout)) as {
          flags: Item[];
          store?: { kind: string; up: boolean };
        };
        print(body, () => {
          const store = body.store
            ? `store: ${body.store.kind}${body.store.up ? '' : ' (UNREACHABLE)'}\n`
            : '';
          return `${store}${body.flags.length ? listTable(body.flags) : '(no flags)'}`;
        });
        return 0;
      }
      case 'get': {
        const name = flagName(rest[0]);
        const body = (await call('GET', `${root}/${name}`, token, timeout)) as Item;
        print(body, () => detail(body));
        return 0;
      }
      case 'set': {
        const name = flagName(rest[0]);
        if (rest[1] === undefined) throw new CliError(`missing value\n\n${USAGE}`, 2);
        let value: number;
        try {
          value = parseFlagValue(rest[1]);
        } catch (err) {
          throw new CliError((err as Error).message, 2);
        }
        const body = (await call('PUT', `${root}/${name}`, token, timeout, {
          value,
          ...(values.description !== undefined ? { description: values.description } : {}),
          ...(values.owner !== undefined ? { owner: values.owner } : {}),
        })) as Item;
        print(body, () => {
          let line = `${name}: ${showValue(body.previous)} -> ${showValue(value)}`;
          if (body.source === 'override')
            line += `\nnote: this instance has an override: it keeps evaluating ${showValue(body.value)}`;
          return line;
        });
        return 0;
      }
      case 'delete': {
        const name = flagName(rest[0]);
        const body = await call('DELETE', `${root}/${name}`, token, timeout);
        print(body, () => `${name}: deleted`);
        return 0;
      }
      default:
        throw new CliError(`unknown command '${command}'\n\n${USAGE}`, 2);
    }
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`fleet-flags: ${err.message.trimEnd()}\n`);
      return err.exitCode;
    }
    io.stderr(`fleet-flags: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string', short: 'u' },
      token: { type: 'string', short: 't' },
      description: { type: 'string' },
      owner: { type: 'string' },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function invokedDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
