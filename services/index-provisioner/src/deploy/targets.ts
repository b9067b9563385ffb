import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseConf } from '../conf/parser.js';
import type { ConfFileName } from '../conf/render.js';
import type { DirectoryTargetConfig, SplunkRestTargetConfig } from '../config.js';

/** Restores what a write replaced; returns a description of what it did. */
export type Undo = () => Promise<string>;

/** Where a cluster's files go and how Splunk is told to pick them up. */
export interface TargetDriver {
  /** Short description for deployment records (no secrets). */
  readonly description: string;
  /**
   * Write `files`. `previous` is what the last successful deployment wrote. `onUndo` is called
   * before anything changes with a function that restores the state found, so a write failing
   * half-way can still be rolled back.
   */
  write(
    files: Record<string, string>,
    previous: Record<string, string> | undefined,
    onUndo: (undo: Undo) => void,
  ): Promise<string>;
  /** Make Splunk load what is on the target (reload endpoints, or the configured command). */
  activate(files: Record<string, string>): Promise<string>;
}

// ---------------------------------------------------------------------------------------------
// directory: an app directory on disk (e.g. the cluster manager's manager-apps), then a command

async function atomicWrite(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `.${name}.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function commandArgv(command: string | string[]): string[] {
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

function tail(text: string, max = 500): string {
  const t = text.trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

export function directoryTarget(
  config: DirectoryTargetConfig,
  options: { cluster: string; clustered: boolean; appName: string; timeoutMs: number },
): TargetDriver {
  const root = resolve(config.root);
  const dir = resolve(
    root,
    config.path ??
      (options.clustered ? `manager-apps/${options.appName}/local` : `apps/${options.appName}/local`),
  );
  const argv = config.command ? commandArgv(config.command) : undefined;

  return {
    description: `directory ${dir}${argv ? ` then ${argv[0]}` : ''}`,

    async write(files, _previous, onUndo) {
      await mkdir(dir, { recursive: true });
      // Back up what is on disk now: the exact state a rollback returns to
      const backups = new Map<string, string | null>();
      for (const name of Object.keys(files)) backups.set(name, await readIfExists(join(dir, name)));
      onUndo(async () => {
        for (const [name, content] of backups) {
          if (content === null) await rm(join(dir, name), { force: true });
          else await atomicWrite(dir, name, content);
        }
        return `restored ${backups.size} files in ${dir}`;
      });
      for (const [name, content] of Object.entries(files)) await atomicWrite(dir, name, content);
      return `wrote ${Object.keys(files).join(', ')} to ${dir}`;
    },

    activate() {
      if (!argv) return Promise.resolve('no command configured');
      const [file, ...args] = argv as [string, ...string[]];
      return new Promise((resolvePromise, reject) => {
        execFile(
          file,
          args,
          {
            cwd: root,
            timeout: options.timeoutMs,
            maxBuffer: 1024 * 1024,
            env: { ...process.env, FLEET_CLUSTER: options.cluster, FLEET_APP_DIR: dir },
          },
          (err, stdout, stderr) => {
            if (err) {
              const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
              const how = err.killed
                ? `timed out after ${options.timeoutMs} ms`
                : `failed (exit ${String(code)})`;
              reject(new Error(`command ${file} ${how}: ${tail(stderr || stdout || err.message)}`));
            } else
              resolvePromise(`command ${file} succeeded${stdout.trim() ? `: ${tail(stdout, 200)}` : ''}`);
          },
        );
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// splunk-rest: Splunk's management API (configs/conf-* endpoints, then _reload endpoints)

/** Reload endpoints that make Splunk re-read each file without a restart. */
export const DEFAULT_RELOAD: Record<ConfFileName, string> = {
  'indexes.conf': '/services/data/indexes/_reload',
  'authorize.conf': '/services/authorization/roles/_reload',
  // Undocumented, but the one that re-reads authentication.conf (roleMap_*) without a restart
  'authentication.conf': '/services/admin/auth-services/_reload',
};

export class SplunkRestError extends Error {
  constructor(
    readonly status: number,
    method: string,
    path: string,
    detail: string,
  ) {
    super(`${method} ${path} answered ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'SplunkRestError';
  }
}

type Stanzas = Map<string, Record<string, string>>;

function stanzasOf(text: string | undefined): Stanzas {
  const out: Stanzas = new Map();
  if (text === undefined) return out;
  for (const stanza of parseConf(text).stanzas)
    if (stanza.name !== 'default') out.set(stanza.name, stanza.settings);
  return out;
}

export function splunkRestTarget(
  config: SplunkRestTargetConfig,
  options: { cluster: string; appName: string; token: string; timeoutMs: number },
): TargetDriver {
  const base = config.url.replace(/\/+$/, '');
  const app = encodeURIComponent(config.app ?? options.appName);
  const authorization = `${config.authScheme ?? 'Bearer'} ${options.token}`;

  async function call(method: string, path: string, params?: Record<string, string>): Promise<number> {
    if (!options.token)
      throw new Error(`no Splunk token for cluster '${options.cluster}' (set SPLUNK_TOKENS or SPLUNK_TOKEN)`);
    const url = `${base}${path}${path.includes('?') ? '&' : '?'}output_mode=json`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization,
          ...(params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(params ? { body: new URLSearchParams(params).toString() } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      throw new SplunkRestError(0, method, path, (err as Error).message);
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return response.status;
    let detail = '';
    try {
      const body = JSON.parse(text) as { messages?: Array<{ text?: string }> };
      detail = body.messages?.map((m) => m.text).join('; ') ?? '';
    } catch {
      detail = tail(text, 200);
    }
    const error = new SplunkRestError(response.status, method, path, detail);
    throw error;
  }

  const confPath = (file: string) =>
    `/servicesNS/nobody/${app}/configs/conf-${encodeURIComponent(file.replace(/\.conf$/, ''))}`;

  /** Make Splunk's stanzas go from `from` to `to`: upsert every stanza of `to`, delete the rest. */
  async function transition(file: string, from: Stanzas, to: Stanzas): Promise<number> {
    let calls = 0;
    for (const [name, settings] of to) {
      // Keys the stanza had before but not now are cleared (Splunk's API cannot remove a key)
      const params: Record<string, string> = {};
      for (const key of Object.keys(from.get(name) ?? {})) params[key] = '';
      Object.assign(params, settings);
      try {
        await call('POST', `${confPath(file)}/${encodeURIComponent(name)}`, params);
      } catch (err) {
        if (!(err instanceof SplunkRestError) || err.status !== 404) throw err;
        await call('POST', confPath(file), { name, ...params });
      }
      calls++;
    }
    for (const name of from.keys()) {
      if (to.has(name)) continue;
      try {
        await call('DELETE', `${confPath(file)}/${encodeURIComponent(name)}`);
      } catch (err) {
        if (!(err instanceof SplunkRestError) || err.status !== 404) throw err;
      }
      calls++;
    }
    return calls;
  }

  return {
    description: `splunk-rest ${base} app ${decodeURIComponent(app)}`,

    async write(files, previous, onUndo) {
      const plan = Object.keys(files).map((file) => ({
        file,
        from: stanzasOf(previous?.[file]),
        to: stanzasOf(files[file]),
      }));
      onUndo(async () => {
        let calls = 0;
        for (const { file, from, to } of [...plan].reverse()) calls += await transition(file, to, from);
        return `restored the previous stanzas (${calls} calls)`;
      });
      let calls = 0;
      for (const { file, from, to } of plan) calls += await transition(file, from, to);
      return `pushed ${plan.length} files to ${base} (${calls} stanza calls)`;
    },

    async activate(files) {
      const endpoints =
        config.reload ??
        (Object.keys(files) as ConfFileName[]).map((f) => DEFAULT_RELOAD[f]).filter((p): p is string => !!p);
      for (const endpoint of endpoints) await call('POST', endpoint);
      return `reloaded ${endpoints.join(', ')}`;
    },
  };
}
