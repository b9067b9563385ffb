/** Keys whose values never reach logs: credentials by name, and any *_TOKEN / *_SECRET / *_PASSWORD style key. */
const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|password|passwd|secret|token|access_token|refresh_token|id_token|api[-_]?key|client_secret|private_key)$|[-_](token|secret|password|passwd|api[-_]?key|private[-_]?key)$/i;

export const REDACTED = '[REDACTED]';

/** Verdicts per key name: log lines reuse a small set of keys, so the regex runs once per name. */
const verdicts = new Map<string, boolean>();
const MAX_CACHED_KEYS = 4096;

export function isSecretKey(key: string): boolean {
  let secret = verdicts.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (verdicts.size < MAX_CACHED_KEYS) verdicts.set(key, secret);
  }
  return secret;
}

/**
 * Returns `value` with secret-named keys replaced, copying only the objects it changes.
 * Depth-limited: log objects are shallow, and a cycle must not hang the logger.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactSecrets(value[i], depth + 1);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return (copy ?? value) as T;
  }
  if (value instanceof Error || Buffer.isBuffer(value) || value instanceof Date) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const current = (value as Record<string, unknown>)[key];
    let next: unknown;
    if (isSecretKey(key)) next = REDACTED;
    else if (typeof current === 'object' && current !== null) next = redactSecrets(current, depth + 1);
    else continue;
    if (next !== current) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = next;
    }
  }
  return (copy ?? value) as T;
}
