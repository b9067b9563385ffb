import { createHash } from 'node:crypto';
import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onSendHookHandler,
  preHandlerHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';

/** A stored first response, replayed for retries with the same key. */
export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  state: 'in-progress' | 'done';
  response?: StoredResponse;
}

/** Where idempotency records live; implement for Redis/Postgres to share them between replicas. */
export interface IdempotencyStore {
  /**
   * Atomically insert an in-progress record unless an unexpired one exists; returns the existing
   * record if it does. `ttlMs` is how long the in-progress lock lasts if `complete` never comes.
   */
  begin(key: string, fingerprint: string, ttlMs: number): Promise<IdempotencyRecord | undefined>;
  /** Store the final response; the record is then kept for `ttlMs`. */
  complete(key: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Forget an in-progress record (the request failed before producing a response worth keeping). */
  abandon(key: string): Promise<void>;
}

/** In-process store with expiry; the default. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, IdempotencyRecord & { expires: number }>();

  async begin(key: string, fingerprint: string, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    const now = Date.now();
    const existing = this.#records.get(key);
    if (existing && existing.expires > now) return existing;
    this.#records.set(key, { fingerprint, state: 'in-progress', expires: now + ttlMs });
    if (this.#records.size % 1024 === 0) this.#sweep(now);
    return undefined;
  }

  async complete(key: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const record = this.#records.get(key);
    if (record) Object.assign(record, { state: 'done', response, expires: Date.now() + ttlMs });
  }

  async abandon(key: string): Promise<void> {
    this.#records.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, record] of this.#records) if (record.expires <= now) this.#records.delete(key);
  }
}

export interface IdempotencyOptions {
  store?: IdempotencyStore;
  /** How long a key is remembered (default 24 h). */
  ttlMs?: number;
  /**
   * How long an in-progress key stays locked when its request never completes (the process died,
   * the reply was hijacked); after that a retry runs again (default 5 min).
   */
  inProgressTtlMs?: number;
  /** Require the header on opted-in routes (default false: requests without a key run normally). */
  required?: boolean;
}

declare module 'fastify' {
  interface RouteShorthandOptions {
    /** Honour `Idempotency-Key` on this route (POST/PUT/PATCH). */
    idempotent?: boolean;
  }
}

const kKey = Symbol('fleet.idempotencyKey');
type WithKey = FastifyRequest & { [kKey]?: string };

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(request.method)
    .update('\0')
    .update(request.url)
    .update('\0')
    .update(canonicalJson(request.body ?? null))
    .digest('base64url');
}

/** Response headers that describe one transmission, not the response, and are never replayed. */
const NOT_REPLAYED = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'date',
  'set-cookie',
  'idempotent-replayed',
  // Per-request correlation: the replay belongs to the retry's own trace
  'x-request-id',
  'traceparent',
  'tracestate',
]);

function replayableHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || NOT_REPLAYED.has(name.toLowerCase())) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

function conflict(reply: FastifyReply, status: 409 | 422, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .send({ statusCode: status, error: status === 409 ? 'Conflict' : 'Unprocessable Entity', code, message });
}

/**
 * Stripe-style `Idempotency-Key` for routes that opt in with `{ idempotent: true }`: the first
 * response (2xx/4xx) is stored and replayed for the same key; the same key with a different body
 * gets 422, and a retry while the first request still runs gets 409. Scoped per caller subject
 * when the route is authenticated, so two callers cannot read each other's responses.
 */
const idempotency: FastifyPluginCallback<IdempotencyOptions> = (app, options, done) => {
  const store = options.store ?? new MemoryIdempotencyStore();
  const ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
  const inProgressTtlMs = Math.min(options.inProgressTtlMs ?? 5 * 60 * 1000, ttlMs);

  const before: preHandlerHookHandler = async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined) {
      if (options.required)
        return conflict(reply, 422, 'idempotency_key_required', 'Idempotency-Key header is required');
      return;
    }
    if (typeof header !== 'string' || header.length === 0 || header.length > 255)
      return conflict(reply, 422, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
    // Unambiguous: no subject/route/key combination can spell another one
    const principal = request.principal;
    const key = JSON.stringify([
      principal ? `sub:${principal.subject}` : 'anonymous',
      request.routeOptions.url,
      header,
    ]);
    const print = fingerprint(request);
    const existing = await store.begin(key, print, inProgressTtlMs);
    if (!existing) {
      (request as WithKey)[kKey] = key;
      return;
    }
    if (existing.fingerprint !== print)
      return conflict(
        reply,
        422,
        'idempotency_key_reused',
        'Idempotency-Key was already used with a different request',
      );
    if (existing.state === 'in-progress' || !existing.response)
      return conflict(
        reply,
        409,
        'idempotency_in_progress',
        'a request with this Idempotency-Key is still in progress',
      );
    const { statusCode, headers, body } = existing.response;
    return reply.code(statusCode).headers(headers).header('idempotent-replayed', 'true').send(body);
  };

  const after: onSendHookHandler = async (request, reply, payload) => {
    const key = (request as WithKey)[kKey];
    if (key === undefined) return payload;
    // Server errors are not final, and streams cannot be stored: forget the key so a retry runs again
    const body = payload === undefined || payload === null ? '' : payload;
    if (reply.statusCode >= 500 || typeof body !== 'string') {
      await store.abandon(key);
      return payload;
    }
    await store.complete(
      key,
      { statusCode: reply.statusCode, headers: replayableHeaders(reply), body },
      ttlMs,
    );
    return payload;
  };

  app.addHook('onRoute', (route) => {
    if (!route.idempotent) return;
    const pre = route.preHandler
      ? Array.isArray(route.preHandler)
        ? route.preHandler
        : [route.preHandler]
      : [];
    const send = route.onSend ? (Array.isArray(route.onSend) ? route.onSend : [route.onSend]) : [];
    route.preHandler = [before, ...pre];
    route.onSend = [...send, after];
  });
  done();
};

export const idempotencyPlugin = fp(idempotency, { name: 'fleet-idempotency', fastify: '5.x' });
