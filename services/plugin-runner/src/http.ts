/**
 * The `http` a plugin gets: global fetch (traced by the chassis) with a timeout per attempt,
 * retries with exponential backoff and jitter on network errors and 5xx, `Retry-After` honoured on
 * 429/503, and the upstream's rate-limit headers (`X-RateLimit-*`, `RateLimit-*`) respected: once
 * the remaining budget is 0 the next request waits for the reset, or, if that is further away than
 * the runner is willing to wait, the run stops with RateLimitedError and resumes after the reset.
 */
import { parseRetryAfter, sleep, withTimeout } from '@fleet/chassis';
import { HttpError, NetworkError, RateLimitedError } from './errors.js';

export interface HttpRequestInit extends Omit<RequestInit, 'signal'> {
  /** Query parameters appended to the URL (undefined values are skipped). */
  query?: Record<string, string | number | boolean | undefined>;
  /** Timeout of one attempt, ms (default: the runner's runner.http.timeoutMs). */
  timeoutMs?: number;
  /** Attempts in all, the first included (default: the runner's runner.http.attempts). */
  attempts?: number;
  /** Statuses returned to the caller instead of thrown (e.g. [404]). */
  allowStatus?: number[];
}

/** `ctx.http(url, init)`: fetch with the runner's politeness; throws HttpError for error statuses. */
export interface HttpClient {
  (url: string | URL, init?: HttpRequestInit): Promise<Response>;
  /** GET (or `init.method`) and parse the JSON body. */
  json<T = unknown>(url: string | URL, init?: HttpRequestInit): Promise<{ data: T; response: Response }>;
}

export interface HttpPolicy {
  timeoutMs: number;
  attempts: number;
  /** Backoff base and cap, ms (full jitter on the upper half: delay in [d/2, d)). */
  baseMs: number;
  maxMs: number;
  /** Longest the runner waits for a rate-limit reset inside a run before it stops the run. */
  maxRateLimitWaitMs: number;
  userAgent: string;
}

/** What the runner remembers of an upstream's rate limit between requests (and runs). */
export interface RateLimitState {
  remaining?: number;
  /** Epoch ms when the budget is restored. */
  resetAt?: number;
}

export interface HttpObserver {
  onResponse?(status: number): void;
  onRetry?(reason: 'network' | 'server' | 'rate_limit', delayMs: number): void;
}

const MAX_ERROR_BODY = 300;

/** Seconds since the epoch (GitHub `X-RateLimit-Reset`) or seconds from now (`RateLimit-Reset`). */
export function parseReset(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const n = Number(value.trim());
  if (!Number.isFinite(n) || n < 0) return undefined;
  return n > 1e9 ? n * 1000 : now + n * 1000;
}

/** Read the rate-limit headers of a response into `state`. */
export function recordRateLimit(headers: Headers, state: RateLimitState, now = Date.now()): void {
  const remaining = headers.get('x-ratelimit-remaining') ?? headers.get('ratelimit-remaining');
  const reset = parseReset(headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset'), now);
  if (remaining !== null && remaining.trim() !== '' && Number.isFinite(Number(remaining)))
    state.remaining = Number(remaining);
  if (reset !== undefined) state.resetAt = reset;
}

/** Exponential backoff with jitter on the upper half: never 0, never above maxMs. */
export function jitteredBackoff(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function withQuery(url: string | URL, query: HttpRequestInit['query']): string {
  if (!query) return String(url);
  const out = new URL(String(url));
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) out.searchParams.set(key, String(value));
  return out.toString();
}

async function errorBody(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.length > MAX_ERROR_BODY ? `${text.slice(0, MAX_ERROR_BODY)}…` : text;
  } catch {
    return '';
  }
}

export function createHttpClient(
  policy: HttpPolicy,
  signal: AbortSignal,
  rate: RateLimitState = {},
  observer: HttpObserver = {},
): HttpClient {
  async function waitForBudget(url: string): Promise<void> {
    if (rate.remaining === undefined || rate.remaining > 0 || rate.resetAt === undefined) return;
    const wait = rate.resetAt - Date.now();
    if (wait <= 0) {
      rate.remaining = undefined;
      return;
    }
    if (wait > policy.maxRateLimitWaitMs) throw new RateLimitedError(rate.resetAt, url);
    observer.onRetry?.('rate_limit', wait);
    await sleep(wait, signal);
    rate.remaining = undefined;
  }

  const request = async (input: string | URL, init: HttpRequestInit = {}): Promise<Response> => {
    const { query, timeoutMs, attempts: attemptsOption, allowStatus, ...fetchInit } = init;
    const url = withQuery(input, query);
    const attempts = Math.max(1, attemptsOption ?? policy.attempts);
    const headers = new Headers(fetchInit.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', policy.userAgent);
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      await waitForBudget(url);
      let response: Response;
      try {
        response = await withTimeout(
          timeoutMs ?? policy.timeoutMs,
          (timeout) => fetch(url, { ...fetchInit, headers, signal: AbortSignal.any([timeout, signal]) }),
          signal,
        );
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        if (attempt >= attempts) throw new NetworkError(url, err);
        const delay = jitteredBackoff(attempt, policy.baseMs, policy.maxMs);
        observer.onRetry?.('network', delay);
        await sleep(delay, signal);
        continue;
      }
      observer.onResponse?.(response.status);
      const now = Date.now();
      recordRateLimit(response.headers, rate, now);
      if (response.ok || allowStatus?.includes(response.status)) return response;
      const status = response.status;
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
      const body = await errorBody(response);
      const limited = status === 429 || (status === 403 && rate.remaining === 0);
      if (limited) {
        const wait =
          retryAfter ??
          (rate.resetAt !== undefined && rate.resetAt > now ? rate.resetAt - now : undefined) ??
          jitteredBackoff(attempt, policy.baseMs, policy.maxMs);
        if (wait > policy.maxRateLimitWaitMs || attempt >= attempts)
          throw new RateLimitedError(now + wait, url);
        observer.onRetry?.('rate_limit', wait);
        rate.remaining = undefined;
        await sleep(wait, signal);
        continue;
      }
      if (status >= 500 || status === 408) {
        if (attempt >= attempts) throw new HttpError(status, url, body);
        const delay =
          retryAfter !== undefined
            ? Math.min(retryAfter, policy.maxRateLimitWaitMs)
            : jitteredBackoff(attempt, policy.baseMs, policy.maxMs);
        observer.onRetry?.('server', delay);
        await sleep(delay, signal);
        continue;
      }
      throw new HttpError(status, url, body);
    }
  };

  const client = request as HttpClient;
  client.json = async <T>(url: string | URL, init: HttpRequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const response = await request(url, { ...init, headers });
    const text = await response.text();
    let data: T;
    try {
      data = (text === '' ? null : JSON.parse(text)) as T;
    } catch {
      throw new HttpError(response.status, String(url), `response is not JSON: ${text.slice(0, 100)}`);
    }
    return { data, response };
  };
  return client;
}
