/**
 * GitHub: an organization's audit log (`org`) or a repository's events (`repo`).
 *
 * - Audit log: `GET /orgs/{org}/audit-log?phrase=created:>=<since>&order=asc`, oldest first,
 *   following `Link: rel="next"`. The cursor is the newest delivered `@timestamp` plus the ids seen
 *   at that instant, so the inclusive `>=` query never delivers an entry twice.
 * - Repository events: `GET /repos/{owner}/{repo}/events`, newest first (at most 300 kept by
 *   GitHub). New events (id above the cursor) are gathered across `Link` pages, then delivered
 *   oldest first, so the cursor only ever moves forward.
 *
 * Rate limits (`X-RateLimit-Remaining`/`-Reset`, 403/429 with `Retry-After`) are honoured by ctx.http.
 */

import type { JsonSchema } from '../json-schema.js';
import { definePlugin, type PluginEvent } from '../plugin.js';
import { bearer, chunk, joinUrl, parseLinkHeader } from './util.js';

export interface GithubConfig {
  baseUrl: string;
  token?: string;
  /** Organization whose audit log is read. */
  org?: string;
  /** `owner/name` whose events are read. */
  repo?: string;
  perPage: number;
  /** Audit log: `web`, `git` or `all` events. */
  include: 'web' | 'git' | 'all';
  /** First run of the audit log: how far back to start. */
  lookbackMs: number;
  /** Repository events: most pages followed per run (GitHub keeps 10 pages of 30, or 3 of 100). */
  maxPages: number;
}

export type GithubCursor = { since: number; seen: string[] } | { lastId: string };

interface AuditEntry {
  '@timestamp'?: number;
  _document_id?: string;
  action?: string;
  actor?: string;
  org?: string;
  repo?: string;
  user?: string;
  created_at?: number;
}

interface RepoEvent {
  id?: string;
  type?: string;
  created_at?: string;
  actor?: { login?: string };
  repo?: { name?: string };
}

const CONFIG_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    baseUrl: { type: 'string', format: 'uri', default: 'https://api.github.com' },
    token: { type: 'string', minLength: 1 },
    org: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,38}$' },
    repo: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$' },
    perPage: { type: 'integer', minimum: 1, maximum: 100, default: 100 },
    include: { enum: ['web', 'git', 'all'], default: 'web' },
    lookbackMs: { type: 'integer', minimum: 0, default: 86_400_000 },
    maxPages: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
  },
};

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function auditEvent(entry: AuditEntry, id: string, ts: number): PluginEvent {
  const fields: Record<string, string> = {};
  for (const key of ['action', 'actor', 'org', 'repo', 'user'] as const) {
    const value = entry[key];
    if (typeof value === 'string') fields[key] = value;
  }
  return {
    id,
    timestamp: ts,
    service: 'github',
    level: 'info',
    message: `${entry.action ?? 'event'} by ${entry.actor ?? 'unknown'}`,
    fields,
    data: entry,
  };
}

export const githubPlugin = definePlugin<GithubConfig, GithubCursor>({
  name: 'github',
  version: '1.0.0',
  description: 'GitHub organization audit log (org) or repository events (repo)',
  configSchema: CONFIG_SCHEMA,
  checkConfig: (config) =>
    (config.org === undefined) === (config.repo === undefined)
      ? "set exactly one of 'org' (audit log) or 'repo' (repository events)"
      : undefined,
  compareCursors(a, b) {
    if ('since' in a && 'since' in b) return a.since - b.since;
    if ('lastId' in a && 'lastId' in b) return compareIds(a.lastId, b.lastId);
    return 0;
  },
  async *poll(ctx) {
    const { config, http, signal } = ctx;
    const headers = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...bearer(config.token),
    };
    if (config.org !== undefined) {
      const start =
        ctx.cursor && 'since' in ctx.cursor
          ? ctx.cursor
          : { since: Date.now() - config.lookbackMs, seen: [] };
      let since = start.since;
      let seen = new Set(start.seen);
      let url: string | undefined = joinUrl(
        config.baseUrl,
        `/orgs/${encodeURIComponent(config.org)}/audit-log`,
      );
      let query: Record<string, string | number> | undefined = {
        phrase: `created:>=${new Date(Math.floor(since / 1000) * 1000).toISOString().replace('.000Z', 'Z')}`,
        order: 'asc',
        include: config.include,
        per_page: config.perPage,
      };
      while (url) {
        signal.throwIfAborted();
        const { data, response }: { data: AuditEntry[]; response: Response } = await http.json<AuditEntry[]>(
          url,
          {
            headers,
            ...(query ? { query } : {}),
          },
        );
        if (!Array.isArray(data)) throw new Error(`audit log answer is not an array (${typeof data})`);
        const events: PluginEvent[] = [];
        for (const entry of data) {
          const ts = entry['@timestamp'] ?? entry.created_at;
          const id = entry._document_id;
          if (typeof ts !== 'number' || typeof id !== 'string') continue;
          if (ts < since || (ts === since && seen.has(id))) continue;
          if (ts > since) {
            since = ts;
            seen = new Set();
          }
          seen.add(id);
          events.push(auditEvent(entry, id, ts));
        }
        yield { events, cursor: { since, seen: [...seen] } };
        url = parseLinkHeader(response.headers.get('link')).next;
        query = undefined;
      }
      return;
    }
    // Repository events: newest first; gather what is new, deliver it oldest first
    const lastId = ctx.cursor && 'lastId' in ctx.cursor ? ctx.cursor.lastId : undefined;
    const fresh: RepoEvent[] = [];
    let url: string | undefined = joinUrl(config.baseUrl, `/repos/${config.repo!}/events`);
    let query: Record<string, number> | undefined = { per_page: config.perPage };
    let pages = 0;
    reading: while (url && pages < config.maxPages) {
      signal.throwIfAborted();
      const { data, response }: { data: RepoEvent[]; response: Response } = await http.json<RepoEvent[]>(
        url,
        {
          headers,
          ...(query ? { query } : {}),
        },
      );
      if (!Array.isArray(data)) throw new Error(`events answer is not an array (${typeof data})`);
      pages++;
      for (const event of data) {
        if (typeof event.id !== 'string' || !/^\d+$/.test(event.id)) continue;
        if (lastId !== undefined && compareIds(event.id, lastId) <= 0) break reading;
        fresh.push(event);
      }
      url = parseLinkHeader(response.headers.get('link')).next;
      query = undefined;
    }
    fresh.sort((a, b) => compareIds(a.id!, b.id!));
    const unique = fresh.filter((e, i) => i === 0 || e.id !== fresh[i - 1]!.id);
    for (const batch of chunk(unique, config.perPage)) {
      yield {
        events: batch.map((e) => ({
          id: e.id!,
          timestamp: e.created_at ?? Date.now(),
          service: 'github',
          message: `${e.type ?? 'Event'} by ${e.actor?.login ?? 'unknown'} on ${e.repo?.name ?? config.repo}`,
          fields: { type: e.type ?? null, actor: e.actor?.login ?? null, repo: e.repo?.name ?? config.repo! },
          data: e,
        })),
        cursor: { lastId: batch[batch.length - 1]!.id! },
      };
    }
    if (unique.length === 0 && lastId === undefined) yield { events: [], cursor: { lastId: '0' } };
  },
});
