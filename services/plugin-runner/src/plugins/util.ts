/** Helpers shared by the built-in plugins. */

/** The URLs of an RFC 8288 `Link` header by relation (`next`, `last`, ...). */
export function parseLinkHeader(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  if (!header) return links;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (!match) continue;
    const rel = /rel="?([^";]+)"?/i.exec(match[2]!);
    if (rel) for (const name of rel[1]!.trim().split(/\s+/)) links[name.toLowerCase()] = match[1]!;
  }
  return links;
}

const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[(?:'([^']*)'|"([^"]*)")\]/y;

/** Parse `$.a.b[0]['c d']` (the leading `$` optional, as is the first dot): the path's keys. */
export function parseJsonPath(path: string): Array<string | number> {
  let text = path.trim();
  if (text === '$' || text === '') return [];
  if (text.startsWith('$')) text = text.slice(1);
  if (!text.startsWith('.') && !text.startsWith('[')) text = `.${text}`;
  const keys: Array<string | number> = [];
  SEGMENT.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    SEGMENT.lastIndex = at;
    const match = SEGMENT.exec(text);
    if (!match)
      throw new Error(`'${path}' is not a path like $.items or data.items[0].id (at '${text.slice(at)}')`);
    if (match[1] !== undefined) keys.push(match[1]);
    else if (match[2] !== undefined) keys.push(Number(match[2]));
    else keys.push(match[3] ?? match[4] ?? '');
    at = SEGMENT.lastIndex;
  }
  return keys;
}

/** The value at `path` in `value` (undefined when any step is missing). */
export function selectPath(value: unknown, path: string | Array<string | number>): unknown {
  const keys = typeof path === 'string' ? parseJsonPath(path) : path;
  let current: unknown = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A bearer authorization header when a token is set. */
export function bearer(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** `base` + `path` where base may end with '/' and path starts with '/'. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
