/**
 * Slack audit logs (Enterprise Grid): `GET /audit/v1/logs?oldest=&latest=&limit=&cursor=`, cursor
 * pagination through `response_metadata.next_cursor`, newest entries first. A window of time is
 * read completely, then delivered oldest first; a window holding more than `maxEntriesPerWindow`
 * entries is halved until it fits. The cursor is the newest delivered `date_create` (seconds) plus
 * the ids seen in that second. 429 answers with `Retry-After` are honoured by ctx.http.
 */
import type { JsonSchema } from '../json-schema.js';
import { definePlugin, type PluginEvent } from '../plugin.js';
import { bearer, chunk, joinUrl } from './util.js';

export interface SlackConfig {
  baseUrl: string;
  token: string;
  /** Entries per request (Slack allows up to 9999). */
  limit: number;
  /** Only this action (e.g. `user_login`), optional. */
  action?: string;
  /** First run: how far back to start, ms. */
  lookbackMs: number;
  /** Largest window read before delivering (the window is halved beyond it). */
  maxEntriesPerWindow: number;
  /** Events per delivered page. */
  pageSize: number;
}

export interface SlackCursor {
  /** Newest delivered date_create, epoch seconds. */
  oldest: number;
  /** Ids delivered with date_create === oldest. */
  seen: string[];
}

interface SlackEntry {
  id?: string;
  date_create?: number;
  action?: string;
  actor?: { type?: string; user?: { id?: string; name?: string; email?: string } };
  entity?: { type?: string; [key: string]: unknown };
  context?: { ip_address?: string; location?: { name?: string; domain?: string } };
}

interface SlackAnswer {
  ok?: boolean;
  error?: string;
  entries?: SlackEntry[];
  response_metadata?: { next_cursor?: string };
}

const CONFIG_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['token'],
  additionalProperties: false,
  properties: {
    baseUrl: { type: 'string', format: 'uri', default: 'https://api.slack.com' },
    token: { type: 'string', minLength: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 9999, default: 200 },
    action: { type: 'string', minLength: 1 },
    lookbackMs: { type: 'integer', minimum: 0, default: 86_400_000 },
    maxEntriesPerWindow: { type: 'integer', minimum: 1, default: 20_000 },
    pageSize: { type: 'integer', minimum: 1, maximum: 10_000, default: 500 },
  },
};

function toEvent(entry: SlackEntry & { id: string; date_create: number }): PluginEvent {
  const user = entry.actor?.user;
  return {
    id: entry.id,
    timestamp: entry.date_create * 1000,
    service: 'slack',
    level: 'info',
    message: `${entry.action ?? 'event'} by ${user?.name ?? user?.id ?? 'unknown'}`,
    fields: {
      action: entry.action ?? null,
      actor: user?.name ?? user?.id ?? null,
      actor_email: user?.email ?? null,
      entity_type: entry.entity?.type ?? null,
      ip_address: entry.context?.ip_address ?? null,
    },
    data: entry,
  };
}

export const slackPlugin = definePlugin<SlackConfig, SlackCursor>({
  name: 'slack',
  version: '1.0.0',
  description: 'Slack Enterprise Grid audit logs',
  configSchema: CONFIG_SCHEMA,
  compareCursors: (a, b) => a.oldest - b.oldest,
  async *poll(ctx) {
    const { config, http, signal } = ctx;
    const url = joinUrl(config.baseUrl, '/audit/v1/logs');
    const headers = bearer(config.token);
    let cursor: SlackCursor = ctx.cursor ?? {
      oldest: Math.floor((Date.now() - config.lookbackMs) / 1000),
      seen: [],
    };

    /** Every entry in [oldest, latest] (latest undefined: up to now), at most `cap` + 1. */
    const readWindow = async (latest: number | undefined, cap: number): Promise<SlackEntry[]> => {
      const entries: SlackEntry[] = [];
      let next: string | undefined;
      do {
        signal.throwIfAborted();
        const { data } = await http.json<SlackAnswer>(url, {
          headers,
          query: { oldest: cursor.oldest, latest, limit: config.limit, action: config.action, cursor: next },
        });
        if (data?.ok === false) throw new Error(`Slack answered ok=false: ${data.error ?? 'unknown error'}`);
        entries.push(...(data?.entries ?? []));
        next = data?.response_metadata?.next_cursor || undefined;
      } while (next && entries.length <= cap);
      return entries;
    };

    for (;;) {
      const now = Math.floor(Date.now() / 1000);
      let latest: number | undefined;
      let entries = await readWindow(latest, config.maxEntriesPerWindow);
      while (entries.length > config.maxEntriesPerWindow) {
        const end = latest ?? now;
        if (end - cursor.oldest <= 1) break;
        latest = cursor.oldest + Math.floor((end - cursor.oldest) / 2);
        entries = await readWindow(latest, config.maxEntriesPerWindow);
      }
      const seen = new Set(cursor.seen);
      const fresh = entries
        .filter(
          (e): e is SlackEntry & { id: string; date_create: number } =>
            typeof e.id === 'string' && typeof e.date_create === 'number',
        )
        .filter((e) => e.date_create > cursor.oldest || (e.date_create === cursor.oldest && !seen.has(e.id)))
        .sort((a, b) => a.date_create - b.date_create || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const unique = fresh.filter((e, i) => i === 0 || e.id !== fresh[i - 1]!.id);
      for (const batch of chunk(unique, config.pageSize)) {
        let { oldest } = cursor;
        let ids = oldest === cursor.oldest ? new Set(cursor.seen) : new Set<string>();
        for (const e of batch) {
          if (e.date_create > oldest) {
            oldest = e.date_create;
            ids = new Set();
          }
          ids.add(e.id);
        }
        cursor = { oldest, seen: [...ids] };
        yield { events: batch.map(toEvent), cursor };
      }
      // A halved window: go on with the next one; else this run is caught up
      if (latest === undefined) {
        if (unique.length === 0 && ctx.cursor === undefined) yield { events: [], cursor };
        return;
      }
      if (unique.length === 0) cursor = { oldest: latest, seen: [] };
    }
  },
});
