/** Test helpers: a tiny HEC client over node:http, so tests control every header and the socket. */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';

export interface HecCall {
  method?: string;
  /** Full `Authorization` value; default `Splunk <token>` when `token` is given. */
  authorization?: string;
  token?: string;
  channel?: string;
  gzip?: boolean;
  headers?: Record<string, string>;
  /** Destroy the request after this many ms (the client "gives up"). */
  abortAfterMs?: number;
}

export interface HecAnswer {
  status: number;
  /** Parsed JSON body, or the text when it is not JSON. */
  body: Record<string, unknown>;
  text: string;
}

export const CHANNEL = '11111111-2222-3333-4444-555555555555';
export const CHANNEL_2 = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

/** Sends one request; rejects on socket errors (reset, abort). */
export function hec(
  baseUrl: string,
  path: string,
  body?: string | Buffer,
  call: HecCall = {},
): Promise<HecAnswer> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.authorization !== undefined) headers.Authorization = call.authorization;
  else if (call.token !== undefined) headers.Authorization = `Splunk ${call.token}`;
  if (call.channel !== undefined) headers['X-Splunk-Request-Channel'] = call.channel;
  let payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  if (call.gzip && payload) {
    payload = gzipSync(payload);
    headers['Content-Encoding'] = 'gzip';
  }
  if (payload) headers['Content-Length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}${path}`,
      { method: call.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (call.abortAfterMs !== undefined) {
      setTimeout(() => req.destroy(new Error('client gave up')), call.abortAfterMs);
    }
    req.end(payload);
  });
}

/** Concatenates HEC event objects the way clients batch them (newline separated). */
export function batch(events: readonly Record<string, unknown>[], separator = '\n'): string {
  return events.map((e) => JSON.stringify(e)).join(separator);
}

/** Polls `condition` every 10 ms until true; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}
