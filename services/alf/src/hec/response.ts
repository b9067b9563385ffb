/**
 * What to do with a HEC answer. Pure functions of the HTTP status and the JSON body (or of the
 * error when there was no answer), so every case is unit-tested without a server.
 *
 * | answer                                         | verdict                                                         |
 * | ---------------------------------------------- | --------------------------------------------------------------- |
 * | 2xx (code 0)                                   | success (with `ackId` when acks are on)                          |
 * | 503 / code 9, 429, 5xx except 501, 408         | retry with backoff (Retry-After honoured)                        |
 * | timeouts, connection errors                    | retry; `ambiguous` when HEC may have indexed the batch anyway    |
 * | 400 with `invalid-event-number` N              | partial: events before N accepted, N refused, the rest resent    |
 * | 413, 400 without an event number               | split the batch (a single event: dead-letter)                    |
 * | 401/403, codes 1-4 and 16 (token problems)     | stall: stop sending, readiness 503, retry slowly / on reload     |
 * | codes 10, 11, 14, 404, 405, 501 (configuration)| stall likewise                                                   |
 */

export type RetryReason = 'busy' | 'throttled' | 'server_error' | 'timeout' | 'connection' | 'ack_timeout';

export type HecVerdict =
  | { kind: 'success'; ackId?: number }
  | { kind: 'retry'; reason: RetryReason; ambiguous: boolean; retryAfterMs?: number; detail: string }
  /** Events [0, at) were accepted (Splunk processes a batch in order); event `at` is refused with `code`. */
  | { kind: 'partial'; at: number; code: number; text: string }
  | { kind: 'split'; code: number; status: number; text: string }
  | { kind: 'stall'; reason: StallReason; code: number; status: number; text: string };

export type StallReason = 'token' | 'configuration';

/** HEC codes refusing a single event (the batch stops there). */
export const EVENT_CODES = new Set([6, 7, 12, 13, 15]);
export const INCORRECT_INDEX = 7;
const TOKEN_CODES = new Set([1, 2, 3, 4, 16]);
const CONFIG_CODES = new Set([10, 11, 14]);

export interface HecBody {
  text?: unknown;
  code?: unknown;
  ackId?: unknown;
  'invalid-event-number'?: unknown;
}

/** Parse an answer body; anything unreadable gives {}. */
export function parseHecBody(text: string): HecBody {
  if (text === '') return {};
  try {
    const body = JSON.parse(text) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as HecBody) : {};
  } catch {
    return {};
  }
}

function int(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Verdict for an HTTP answer. `retryAfterMs` comes from a Retry-After header, if any. */
export function classifyResponse(status: number, body: HecBody, retryAfterMs?: number): HecVerdict {
  const code = int(body.code) ?? -1;
  const text = typeof body.text === 'string' ? body.text : '';
  const detail = `HTTP ${status}${code >= 0 ? ` code ${code}` : ''}${text ? ` (${text})` : ''}`;
  const withRetryAfter = retryAfterMs !== undefined ? { retryAfterMs } : {};
  if (status >= 200 && status < 300) {
    const ackId = int(body.ackId);
    return ackId !== undefined ? { kind: 'success', ackId } : { kind: 'success' };
  }
  if (status === 503 || code === 9)
    return { kind: 'retry', reason: 'busy', ambiguous: false, detail, ...withRetryAfter };
  if (status === 429)
    return { kind: 'retry', reason: 'throttled', ambiguous: false, detail, ...withRetryAfter };
  if (status === 408)
    return { kind: 'retry', reason: 'timeout', ambiguous: false, detail, ...withRetryAfter };
  if (status === 401 || status === 403 || TOKEN_CODES.has(code))
    return { kind: 'stall', reason: 'token', code, status, text: text || `HTTP ${status}` };
  if (status === 404 || status === 405 || status === 501 || CONFIG_CODES.has(code))
    return { kind: 'stall', reason: 'configuration', code, status, text: text || `HTTP ${status}` };
  if (status >= 500)
    // 500 (code 8) and other server errors: HEC failed, not the data
    return { kind: 'retry', reason: 'server_error', ambiguous: false, detail, ...withRetryAfter };
  const at = int(body['invalid-event-number']);
  if (status === 400 && at !== undefined) return { kind: 'partial', at, code, text };
  return { kind: 'split', code, status, text: text || `HTTP ${status}` };
}

/** undici and socket error codes of failures before any byte was sent (nothing can have been indexed). */
const BEFORE_SEND = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const TIMEOUTS = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** Verdict for a request that got no answer (always a retry). */
export function classifyError(err: unknown): HecVerdict {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? e?.name ?? 'Error';
  const detail = `${code}: ${e?.message ?? String(err)}`;
  if (TIMEOUTS.has(code) || e?.name === 'TimeoutError')
    return { kind: 'retry', reason: 'timeout', ambiguous: !BEFORE_SEND.has(code), detail };
  return { kind: 'retry', reason: 'connection', ambiguous: !BEFORE_SEND.has(code), detail };
}

/** Dead-letter reason for an event refused with a HEC code. */
export function refusalReason(code: number, status: number): string {
  if (code === INCORRECT_INDEX) return 'hec_incorrect_index';
  if (status === 413) return 'hec_too_large';
  if (EVENT_CODES.has(code)) return 'hec_invalid_event';
  return 'hec_rejected';
}
