import { FlagError, type FlagWrite, type StoredFlag, toStoredFlag } from './model.js';
import type { FlagStore, StoreSink } from './store.js';

export interface HttpFlagStoreOptions {
  /** Base URL of the Fleet service holding the flags (its admin address). */
  url: string;
  /** Bearer token with that service's admin scope. */
  token?: string;
  /** Poll interval, ms (default 5000). */
  pollIntervalMs?: number;
  /** Request timeout, ms (default: the poll interval, at most 5000). */
  timeoutMs?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One item of `GET /admin/flags`, as the stored record it stands for. */
function fromItem(item: Record<string, unknown>): Record<string, unknown> {
  return {
    name: item.name,
    value: item.value,
    description: item.description,
    owner: item.owner,
    updated_at: item.updated_at,
    updated_by: item.updated_by,
    ...(item.source === 'store' && item.version !== null ? { version: item.version } : {}),
  };
}

/**
 * Flags of another Fleet service (a central decider), polled from its `GET /admin/flags`. Only
 * flags it has in its store or overrides are taken (its code defaults are its own business).
 * Writes go to its `PUT /admin/flags/:name`.
 */
export class HttpFlagStore implements FlagStore {
  readonly kind = 'http';
  readonly writable = true;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #pollIntervalMs: number;
  readonly #timeoutMs: number;
  #sink: StoreSink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inflight: AbortController | undefined;
  #closed = false;

  constructor(options: HttpFlagStoreOptions) {
    this.#base = `${options.url.replace(/\/+$/, '')}/admin/flags`;
    this.#headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.#pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? Math.min(Math.max(this.#pollIntervalMs, 1000), 5000);
  }

  async start(sink: StoreSink): Promise<void> {
    this.#sink = sink;
    await this.poll();
    this.#schedule();
  }

  /** Fetch the flags now (the poll timer calls this). */
  async poll(): Promise<void> {
    const sink = this.#sink;
    if (!sink || this.#closed) return;
    let body: unknown;
    try {
      const response = await this.#request('GET', this.#base);
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`GET ${this.#base} answered ${response.status}`);
      }
      try {
        body = await response.json();
      } catch (err) {
        sink.reject(`GET ${this.#base}: unparsable response: ${(err as Error).message}`);
        return;
      }
    } catch (err) {
      if (!this.#closed) sink.down(err);
      return;
    }
    if (!isRecord(body) || !Array.isArray(body.flags) || !body.flags.every(isRecord)) {
      sink.reject(`GET ${this.#base}: expected { flags: [...] }`);
      return;
    }
    const records = (body.flags as Array<Record<string, unknown>>)
      .filter((item) => item.source !== 'default')
      .map(fromItem);
    if (sink.replace(records)) sink.up();
  }

  async write(change: FlagWrite): Promise<StoredFlag> {
    const response = await this.#request('PUT', `${this.#base}/${encodeURIComponent(change.name)}`, {
      value: change.value,
      ...(change.description !== undefined ? { description: change.description } : {}),
      ...(change.owner !== undefined ? { owner: change.owner } : {}),
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) throw this.#error(response.status, body);
    return toStoredFlag({ ...fromItem(body), value: body.store_value ?? body.value });
  }

  async remove(name: string): Promise<boolean> {
    const response = await this.#request('DELETE', `${this.#base}/${encodeURIComponent(name)}`);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status === 404) return false;
    if (!response.ok) throw this.#error(response.status, body);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#inflight?.abort();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await this.poll();
      this.#schedule();
    }, this.#pollIntervalMs);
    this.#timer.unref();
  }

  async #request(method: string, url: string, body?: unknown): Promise<Response> {
    const controller = new AbortController();
    this.#inflight = controller;
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      return await fetch(url, {
        method,
        headers: { ...this.#headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #error(status: number, body: Record<string, unknown>): FlagError {
    const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    return new FlagError(`the central flag service answered ${status}: ${message}`, 502, 'flag_store_error');
  }
}
