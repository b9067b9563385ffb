import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { parseYaml } from '../config/yaml.js';
import { parseFlagValue } from './model.js';
import type { FlagStore, StoreSink } from './store.js';

export interface FileFlagStoreOptions {
  /** JSON or YAML file. */
  path: string;
  /** Polling fallback, ms (default 5000): catches changes fs.watch misses (network filesystems). */
  pollIntervalMs?: number;
  /** Quiet time after a change event before reading, ms (default 25): lets writers finish. */
  debounceMs?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ENTRY_FIELDS = new Set(['value', 'description', 'owner']);

/**
 * Parse a flags document: a map of name to value, or to `{ value, description?, owner? }`,
 * optionally under a top-level `flags` key. Values are basis points, percentages ("25%") or
 * booleans. Throws an Error listing every problem; an empty document is an error (write `{}`).
 */
export function parseFlagDocument(text: string, path = ''): Array<Record<string, unknown>> {
  if (text.trim() === '') throw new Error('the document is empty (write {} for no flags)');
  const ext = extname(path).toLowerCase();
  let doc: unknown;
  try {
    if (ext === '.json') doc = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') doc = parseYaml(text);
    else {
      try {
        doc = JSON.parse(text);
      } catch {
        doc = parseYaml(text);
      }
    }
  } catch (err) {
    throw new Error(`cannot parse: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(doc)) throw new Error('the document must be a mapping of flag names to values');
  const flags = isRecord(doc.flags) && Object.keys(doc).length === 1 ? doc.flags : doc;
  const records: Array<Record<string, unknown>> = [];
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(flags)) {
    try {
      if (isRecord(entry)) {
        const unknown = Object.keys(entry).filter((key) => !ENTRY_FIELDS.has(key));
        if (unknown.length > 0) throw new Error(`unknown field(s) ${unknown.join(', ')}`);
        if (entry.value === undefined) throw new Error('value is missing');
        records.push({
          name,
          value: parseFlagValue(entry.value),
          description: entry.description,
          owner: entry.owner,
        });
      } else {
        records.push({ name, value: parseFlagValue(entry) });
      }
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return records;
}

/**
 * Flags from a JSON/YAML file, reloaded when it changes. The directory is watched (not the file),
 * so atomic replacements and Kubernetes ConfigMap updates (a symlink swapped by rename) are seen;
 * polling backs the watcher up. Read-only: change the file to change the flags.
 */
export class FileFlagStore implements FlagStore {
  readonly kind = 'file';
  readonly writable = false;
  readonly path: string;
  readonly #pollIntervalMs: number;
  readonly #debounceMs: number;
  #sink: StoreSink | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #lastText: string | undefined;
  #lastOk = false;
  #closed = false;

  constructor(options: FileFlagStoreOptions) {
    this.path = options.path;
    this.#pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.#debounceMs = options.debounceMs ?? 25;
  }

  async start(sink: StoreSink): Promise<void> {
    this.#sink = sink;
    this.#watch();
    this.#timer = setInterval(() => void this.check(), this.#pollIntervalMs);
    this.#timer.unref();
    await this.check();
  }

  async write(): Promise<never> {
    throw new Error('the file flag store is read-only');
  }

  async remove(): Promise<never> {
    throw new Error('the file flag store is read-only');
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#running;
  }

  /** Read the file now (the watcher and the poll timer call this). */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#read();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #watch(): void {
    if (this.#watcher || this.#closed) return;
    try {
      const watcher = watch(dirname(this.path), { persistent: false }, () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.check(), this.#debounceMs);
        this.#debounce.unref();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      // the directory does not exist (yet): polling continues and retries the watch
    }
  }

  async #read(): Promise<void> {
    const sink = this.#sink;
    if (!sink || this.#closed) return;
    this.#watch();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      this.#lastText = undefined;
      this.#lastOk = false;
      sink.down(err);
      return;
    }
    if (this.#closed) return;
    if (text === this.#lastText) {
      if (this.#lastOk) sink.up();
      return;
    }
    this.#lastText = text;
    let records: Array<Record<string, unknown>>;
    try {
      records = parseFlagDocument(text, this.path);
    } catch (err) {
      this.#lastOk = false;
      sink.reject(`${this.path}: ${(err as Error).message}`);
      return;
    }
    this.#lastOk = sink.replace(records);
    if (this.#lastOk) sink.up();
  }
}
