/** The outcome of one request to a service: never thrown, so one bad service cannot break a poll. */
export interface FetchResult<T = unknown> {
  ok: boolean;
  /** HTTP status, 0 when no answer arrived (refused, timed out). */
  status: number;
  body: T | null;
  /** The raw text when the body is not JSON (Prometheus metrics). */
  text: string;
  error: string | null;
}

export interface FetchOptions {
  token?: string;
  timeoutMs: number;
  method?: string;
  body?: unknown;
}

/** GET (or another method) with a timeout; any failure is described in `error`. */
export async function fetchService<T = unknown>(url: string, options: FetchOptions): Promise<FetchResult<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      signal: AbortSignal.timeout(options.timeoutMs),
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    let body: T | null = null;
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as T;
      } catch {
        body = null;
      }
    }
    const error = response.ok ? null : describeHttpError(response.status, body);
    return { ok: response.ok, status: response.status, body, text, error };
  } catch (err) {
    return { ok: false, status: 0, body: null, text: '', error: describeFetchError(err, options.timeoutMs) };
  }
}

function describeHttpError(status: number, body: unknown): string {
  const b = body as { code?: unknown; message?: unknown } | null;
  const detail = b && typeof b.message === 'string' ? `: ${b.message}` : '';
  const code = b && typeof b.code === 'string' ? ` ${b.code}` : '';
  return `HTTP ${status}${code}${detail}`;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = e.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return e.message || String(err);
}
