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
  /** Insert an in-progress record unless the key exists; returns the existing record if it does. */
  begin(key: string, fingerprint: string, ttlMs: number): Promise<IdempotencyRecord | undefined>;
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

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(request.method)
    .update('\0')
    .update(request.url)
    .update('\0')
    .update(JSON.stringify(request.body ?? null))
    .digest('base64url');
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

  const before: preHandlerHookHandler = async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined) {
      if (options.required)
        return conflict(reply, 422, 'idempotency_key_required', 'Idempotency-Key header is required');
      return;
    }
    if (typeof header !== 'string' || header.length === 0 || header.length > 255)
      return conflict(reply, 422, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
    const key = `${request.principal?.subject ?? ''}:${request.routeOptions.url}:${header}`;
    const print = fingerprint(request);
    const existing = await store.begin(key, print, ttlMs);
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
    // Server errors are not final: forget the key so a retry runs again
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await store.abandon(key);
      return payload;
    }
    const contentType = reply.getHeader('content-type');
    await store.complete(
      key,
      {
        statusCode: reply.statusCode,
        headers: contentType ? { 'content-type': String(contentType) } : {},
        body: payload,
      },
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
