/**
 * HEC endpoints: one undici keep-alive Pool per endpoint, chosen round-robin among the healthy
 * ones. An endpoint failing `ejectAfter` times in a row (connection errors, timeouts, 5xx) is
 * ejected for a while (doubling per ejection up to `ejectMaxMs`); when its time is up one probe
 * request decides whether it is back. When every endpoint is ejected, the one due first is probed.
 *
 * Each endpoint has `connections` sending slots, each with its own channel GUID
 * (`X-Splunk-Request-Channel`): with indexer acknowledgement the ackIds of a slot are polled on
 * its channel.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRetryAfter } from '@fleet/chassis';
import { Pool } from 'undici';
import { type HecBody, parseHecBody } from './response.js';

export interface HecClientOptions {
  /** Base URLs (`https://host:8088`, optionally with a path prefix or the full collector path). */
  urls: string[];
  /** Collector path appended to a base URL without one (default /services/collector/event). */
  eventPath: string;
  /** The current token (read on every request: a reload takes effect at once). */
  token: () => string;
  /** Sending slots (connections) per endpoint. */
  connections: number;
  /** Timeout for the answer's headers and for each body chunk, ms. */
  timeoutMs: number;
  connectTimeoutMs: number;
  gzip: boolean;
  ejectAfter: number;
  ejectBaseMs: number;
  ejectMaxMs: number;
  tls?: { rejectUnauthorized: boolean; caFile: string };
}

export interface Slot {
  readonly endpoint: Endpoint;
  readonly index: number;
  readonly channel: string;
  busy: boolean;
}

export class Endpoint {
  readonly pool: Pool;
  /** host:port, the metrics label. */
  readonly label: string;
  readonly eventPath: string;
  readonly ackPath: string;
  readonly slots: Slot[];
  consecutiveFailures = 0;
  ejections = 0;
  ejectedUntil = 0;
  /** A probe request is out after an ejection: no other request goes until it answers. */
  probing = false;
  lastError = '';

  constructor(
    readonly url: URL,
    options: HecClientOptions,
  ) {
    this.label = url.host;
    const path = url.pathname.replace(/\/+$/, '');
    const at = path.indexOf('/services/collector');
    if (at >= 0) {
      this.eventPath = path + url.search;
      this.ackPath = `${path.slice(0, at)}/services/collector/ack`;
    } else {
      this.eventPath = path + options.eventPath + url.search;
      this.ackPath = `${path}/services/collector/ack`;
    }
    const ca = options.tls?.caFile ? readFileSync(options.tls.caFile, 'utf8') : undefined;
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      // Backstops: the request timeout proper is HecClient.send's own timer
      headersTimeout: options.timeoutMs + 1000,
      bodyTimeout: options.timeoutMs + 1000,
      connect: {
        timeout: options.connectTimeoutMs,
        ...(url.protocol === 'https:'
          ? { rejectUnauthorized: options.tls?.rejectUnauthorized ?? true, ...(ca ? { ca } : {}) }
          : {}),
      },
    });
    this.slots = Array.from({ length: options.connections }, (_, index) => ({
      endpoint: this,
      index,
      channel: randomUUID(),
      busy: false,
    }));
  }

  healthy(now: number): boolean {
    return this.ejectedUntil <= now && !this.probing;
  }

  get ejected(): boolean {
    return this.ejectedUntil > 0;
  }
}

export interface HecAnswer {
  status: number;
  body: HecBody;
  retryAfterMs?: number;
}

/** Parse and check `hec.url`: problems as strings (for ConfigError). */
export function parseHecUrls(list: readonly string[]): { urls: URL[]; problems: string[] } {
  const urls: URL[] = [];
  const problems: string[] = [];
  for (const raw of list.map((u) => String(u).trim()).filter(Boolean)) {
    try {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
      if (url.username || url.password) throw new Error('credentials belong in hec.token, not the URL');
      urls.push(url);
    } catch (err) {
      problems.push(`hec.url: '${raw}' is not a usable HEC URL (${(err as Error).message})`);
    }
  }
  if (urls.length === 0 && problems.length === 0)
    problems.push('hec.url: at least one HEC URL is required (HEC_URL)');
  return { urls, problems };
}

export class HecClient {
  readonly endpoints: Endpoint[];
  readonly #options: HecClientOptions;
  #next = 0;

  constructor(options: HecClientOptions) {
    this.#options = options;
    const { urls, problems } = parseHecUrls(options.urls);
    if (problems.length > 0) throw new Error(problems.join('; '));
    this.endpoints = urls.map((u) => new Endpoint(u, options));
  }

  /**
   * A free slot on the next healthy endpoint (round-robin), or on an ejected endpoint whose time is
   * up (it becomes a probe); null when nothing can take a request now.
   */
  acquire(now: number): Slot | null {
    const n = this.endpoints.length;
    for (let k = 0; k < n; k++) {
      const endpoint = this.endpoints[(this.#next + k) % n]!;
      if (!endpoint.healthy(now)) continue;
      const slot = endpoint.slots.find((s) => !s.busy);
      if (!slot) continue;
      this.#next = (this.#next + k + 1) % n;
      slot.busy = true;
      if (endpoint.ejected) endpoint.probing = true;
      return slot;
    }
    return null;
  }

  release(slot: Slot): void {
    slot.busy = false;
  }

  /** When an ejected endpoint may be probed next (Infinity: none is ejected). */
  nextProbeAt(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const e of this.endpoints) if (e.ejected && !e.probing) at = Math.min(at, e.ejectedUntil);
    return at;
  }

  /** The endpoint answered (whatever the answer): healthy again. */
  succeeded(endpoint: Endpoint): void {
    endpoint.consecutiveFailures = 0;
    endpoint.ejections = 0;
    endpoint.ejectedUntil = 0;
    endpoint.probing = false;
    endpoint.lastError = '';
  }

  /** A connection error, timeout or server error. Returns true when the endpoint got ejected. */
  failed(endpoint: Endpoint, now: number, error: string): boolean {
    endpoint.lastError = error;
    endpoint.consecutiveFailures++;
    const wasProbe = endpoint.probing;
    endpoint.probing = false;
    if (wasProbe || endpoint.consecutiveFailures >= this.#options.ejectAfter) {
      endpoint.ejections++;
      const ms = Math.min(
        this.#options.ejectMaxMs,
        this.#options.ejectBaseMs * 2 ** Math.min(endpoint.ejections - 1, 20),
      );
      endpoint.ejectedUntil = now + ms;
      return true;
    }
    return false;
  }

  #headers(slot: Slot, gzip: boolean): Record<string, string> {
    return {
      authorization: `Splunk ${this.#options.token()}`,
      'content-type': 'application/json',
      'x-splunk-request-channel': slot.channel,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    };
  }

  /**
   * POST a batch body (gzipped when configured). Throws on network errors and timeouts. The
   * timeout is our own (undici's are coarse, about a second): the whole exchange, answer body
   * included, must finish within `timeoutMs`.
   */
  async send(slot: Slot, body: Buffer, signal: AbortSignal): Promise<HecAnswer> {
    const { endpoint } = slot;
    const local = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      local.abort();
    }, this.#options.timeoutMs);
    const onAbort = () => local.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await endpoint.pool.request({
        path: endpoint.eventPath,
        method: 'POST',
        headers: this.#headers(slot, this.#options.gzip),
        body,
        signal: local.signal,
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      text = await res.body.text();
    } catch (err) {
      if (timedOut)
        throw Object.assign(new Error(`no answer from HEC within ${this.#options.timeoutMs} ms`), {
          code: 'UND_ERR_HEADERS_TIMEOUT',
        });
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    return {
      status,
      body: parseHecBody(text),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }

  /** Ask which ackIds of a channel are indexed. */
  async queryAcks(
    slot: Slot,
    ids: number[],
    signal: AbortSignal,
  ): Promise<{ status: number; acks: Map<number, boolean>; body: HecBody }> {
    const { endpoint } = slot;
    const res = await endpoint.pool.request({
      path: endpoint.ackPath,
      method: 'POST',
      headers: this.#headers(slot, false),
      body: JSON.stringify({ acks: ids }),
      signal,
    });
    const text = await res.body.text();
    const body = parseHecBody(text);
    const acks = new Map<number, boolean>();
    const raw = (body as { acks?: unknown }).acks;
    if (typeof raw === 'object' && raw !== null)
      for (const [id, value] of Object.entries(raw)) acks.set(Number(id), value === true);
    return { status: res.statusCode, acks, body };
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.pool.destroy().catch(() => {})));
  }
}
