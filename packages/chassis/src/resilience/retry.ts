export interface RetryOptions {
  /** Attempts in all, first included (default 5; Infinity retries until aborted). */
  attempts?: number;
  /** Base delay, ms (default 100). */
  baseMs?: number;
  /** Cap on one delay, ms (default 30 000). */
  maxMs?: number;
  /** Whether an error is worth retrying (default: all). */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

/** An error that says how long the server asked us to wait (HTTP `Retry-After`). */
export class RetryableHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}${retryAfterMs !== undefined ? ` (retry after ${retryAfterMs} ms)` : ''}`);
    this.name = 'RetryableHttpError';
  }
}

const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s/;
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;

/**
 * Parse `Retry-After` (RFC 9110: delta-seconds, or an HTTP date in IMF-fixdate, RFC 850 or asctime
 * form) into ms from `now`; undefined when absent or invalid. A date in the past means 0.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse alone accepts far too much ('1.5', '-1', '2024'); insist on a day name first
  if (!HTTP_DATE.test(trimmed)) return undefined;
  // asctime carries no zone but is GMT by definition
  const date = Date.parse(ASCTIME.test(trimmed) ? `${trimmed} GMT` : trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^(attempt-1))). */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/** Wait `ms`; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Run `fn` until it succeeds, waiting with full-jitter exponential backoff between attempts; a
 * `retryAfterMs` on the error (see RetryableHttpError) takes precedence over the computed delay.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseMs = options.baseMs ?? 100;
  const maxMs = options.maxMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || (options.retryOn && !options.retryOn(error, attempt))) throw error;
      // Aborted while the attempt ran: give up now, with the abort reason
      options.signal?.throwIfAborted();
      // `throw undefined` and other non-objects are errors too
      const asked = (error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
      const delay =
        typeof asked === 'number' && asked >= 0
          ? Math.min(asked, maxMs)
          : backoffDelay(attempt, baseMs, maxMs, options.random);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
