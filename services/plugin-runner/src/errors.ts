import type { ValidationIssue } from './json-schema.js';

/** Why a run failed; the `kind` label of plugin_runner_errors_total. */
export const ERROR_KINDS = [
  'config',
  'plugin',
  'malformed_page',
  'upstream',
  'network',
  'rate_limited',
  'produce',
  'lease_lost',
  'timeout',
  'store',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Instance configuration that does not fit its plugin (or a secret reference that cannot be read). */
export class ConfigValidationError extends Error {
  readonly kind = 'config';
  constructor(
    readonly details: ValidationIssue[],
    message = `invalid config: ${details.map((d) => `${d.path || '/'} ${d.message}`).join('; ')}`,
  ) {
    super(message);
    this.name = 'ConfigValidationError';
  }
}

/** A page a plugin yielded that the runner cannot use (no events array, an event without id...). */
export class MalformedPageError extends Error {
  readonly kind = 'malformed_page';
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPageError';
  }
}

/** An upstream answer that is an error after the retries allowed (or a 4xx, never retried). */
export class HttpError extends Error {
  readonly kind = 'upstream';
  constructor(
    readonly status: number,
    readonly url: string,
    readonly body: string,
  ) {
    super(`HTTP ${status} from ${url}${body ? `: ${body}` : ''}`);
    this.name = 'HttpError';
  }
}

/** The upstream could not be reached (connection error, timeout) after the retries allowed. */
export class NetworkError extends Error {
  readonly kind = 'network';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`request to ${url} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'NetworkError';
  }
}

/** The upstream rate limit is exhausted for longer than the runner waits: the run stops until `resetAt`. */
export class RateLimitedError extends Error {
  readonly kind = 'rate_limited';
  constructor(
    readonly resetAt: number,
    readonly url: string,
  ) {
    super(`rate limited by ${url} until ${new Date(resetAt).toISOString()}`);
    this.name = 'RateLimitedError';
  }
}

/** Producing a page's events to Kafka failed: the cursor did not move. */
export class ProduceError extends Error {
  readonly kind = 'produce';
  constructor(cause: unknown) {
    super(`producing events failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ProduceError';
  }
}

/** This replica no longer holds the instance's lease (expired and taken, or the instance is gone). */
export class LeaseLostError extends Error {
  readonly kind = 'lease_lost';
  constructor(message = 'lease lost: another replica holds a newer fencing token') {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export class RunTimeoutError extends Error {
  readonly kind = 'timeout';
  constructor(readonly ms: number) {
    super(`run exceeded ${ms} ms`);
    this.name = 'RunTimeoutError';
  }
}

/** The run was stopped on purpose (shutdown, pause): not a failure. */
export class RunAbortedError extends Error {
  constructor(readonly reason: 'shutdown' | 'paused') {
    super(`run stopped: ${reason}`);
    this.name = 'RunAbortedError';
  }
}

/** The error kind of anything a run may throw; anything unknown came from the plugin. */
export function errorKind(err: unknown): ErrorKind {
  const kind = (err as { kind?: unknown } | null | undefined)?.kind;
  return typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind)
    ? (kind as ErrorKind)
    : 'plugin';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    return String(err);
  }
}

/** The runner's database failed during a run (the run stops; the lease expires if it cannot be released). */
export class StoreError extends Error {
  readonly kind = 'store';
  constructor(cause: unknown) {
    super(`database error: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StoreError';
  }
}

/** Await a database call, turning its failure into a StoreError. */
export async function storeCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw err instanceof StoreError ? err : new StoreError(err);
  }
}
