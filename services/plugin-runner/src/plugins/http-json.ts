/**
 * A generic plugin for simple JSON APIs: GET `url` (with the cursor as a query parameter), take
 * the items at `itemsPath`, and the next cursor from the answer (`cursorPath`) or from the last
 * item (`cursorItemPath`, e.g. its id or update time). Pages are fetched until an answer brings no
 * items or the cursor stops changing.
 */
import { MalformedPageError } from '../errors.js';
import type { JsonSchema } from '../json-schema.js';
import { definePlugin, EVENT_LEVELS, type EventLevel, type FieldValue } from '../plugin.js';
import { parseJsonPath, selectPath } from './util.js';

export interface HttpJsonConfig {
  url: string;
  headers: Record<string, string>;
  /** Where the item array is in the answer (`$` for a top-level array). */
  itemsPath: string;
  /** Where the next cursor is in the answer (a page token or a high-water mark). */
  cursorPath?: string;
  /** Or: the cursor is this value of the last item (its id, its update time...). */
  cursorItemPath?: string;
  /** Query parameter that carries the cursor. */
  cursorParam: string;
  /** Cursor of the first request (none: the parameter is left out). */
  initialCursor?: string | number;
  idPath: string;
  timestampPath: string;
  messagePath?: string;
  levelPath?: string;
  /** Item keys copied into fields (flat values only). */
  fieldPaths: Record<string, string>;
  service: string;
  /** Most requests per run. */
  maxPages: number;
}

type Cursor = string | number | null;

function pathPattern(): JsonSchema {
  return { type: 'string', minLength: 1, maxLength: 200 };
}

const CONFIG_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', format: 'uri' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    itemsPath: { ...pathPattern(), default: '$' },
    cursorPath: pathPattern(),
    cursorItemPath: pathPattern(),
    cursorParam: { type: 'string', minLength: 1, default: 'cursor' },
    initialCursor: { type: ['string', 'number'] },
    idPath: { ...pathPattern(), default: 'id' },
    timestampPath: { ...pathPattern(), default: 'timestamp' },
    messagePath: pathPattern(),
    levelPath: pathPattern(),
    fieldPaths: { type: 'object', additionalProperties: pathPattern(), default: {} },
    service: { type: 'string', minLength: 1, default: 'http-json' },
    maxPages: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
  },
};

function isScalar(value: unknown): value is string | number {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));
}

export const httpJsonPlugin = definePlugin<HttpJsonConfig, Cursor>({
  name: 'http-json',
  version: '1.0.0',
  description: 'Any JSON API with an item array and a cursor (JSONPath-like selectors)',
  configSchema: CONFIG_SCHEMA,
  checkConfig(config) {
    const problems: Array<{ path: string; message: string }> = [];
    if ((config.cursorPath === undefined) === (config.cursorItemPath === undefined))
      problems.push({
        path: '',
        message: "set exactly one of 'cursorPath' (in the answer) or 'cursorItemPath' (in the last item)",
      });
    for (const key of [
      'itemsPath',
      'cursorPath',
      'cursorItemPath',
      'idPath',
      'timestampPath',
      'messagePath',
      'levelPath',
    ] as const) {
      const path = config[key];
      if (path === undefined) continue;
      try {
        parseJsonPath(path);
      } catch (err) {
        problems.push({ path: `/${key}`, message: (err as Error).message });
      }
    }
    for (const [name, path] of Object.entries(config.fieldPaths)) {
      try {
        parseJsonPath(path);
      } catch (err) {
        problems.push({ path: `/fieldPaths/${name}`, message: (err as Error).message });
      }
    }
    return problems;
  },
  async *poll(ctx) {
    const { config, http, signal } = ctx;
    let cursor: Cursor = ctx.cursor ?? config.initialCursor ?? null;
    for (let page = 0; page < config.maxPages; page++) {
      signal.throwIfAborted();
      const { data } = await http.json(config.url, {
        headers: config.headers,
        query: cursor === null ? {} : { [config.cursorParam]: cursor },
      });
      const items = selectPath(data, config.itemsPath);
      if (!Array.isArray(items))
        throw new MalformedPageError(`no array at ${config.itemsPath} in the answer`);
      const last = items[items.length - 1];
      const next =
        config.cursorPath !== undefined
          ? selectPath(data, config.cursorPath)
          : last === undefined
            ? undefined
            : selectPath(last, config.cursorItemPath!);
      const nextCursor: Cursor = isScalar(next) ? next : cursor;
      const events = items.map((item, i) => {
        const id = selectPath(item, config.idPath);
        if (!isScalar(id)) throw new MalformedPageError(`item ${i} has no id at ${config.idPath}`);
        const ts = selectPath(item, config.timestampPath);
        const levelValue = config.levelPath ? selectPath(item, config.levelPath) : undefined;
        const level =
          typeof levelValue === 'string' &&
          (EVENT_LEVELS as readonly string[]).includes(levelValue.toLowerCase())
            ? (levelValue.toLowerCase() as EventLevel)
            : 'info';
        const fields: Record<string, FieldValue> = {};
        for (const [name, path] of Object.entries(config.fieldPaths)) {
          const value = selectPath(item, path);
          fields[name] =
            value === undefined || (typeof value === 'object' && value !== null)
              ? null
              : (value as FieldValue);
        }
        const message = config.messagePath ? selectPath(item, config.messagePath) : undefined;
        return {
          id: String(id),
          timestamp: typeof ts === 'string' || typeof ts === 'number' ? ts : Date.now(),
          level,
          service: config.service,
          message: message === undefined ? `${config.service} item ${String(id)}` : String(message),
          fields,
          data: item,
        };
      });
      if (events.length === 0 && nextCursor === cursor) return;
      yield { events, cursor: nextCursor };
      if (events.length === 0 || nextCursor === cursor) return;
      cursor = nextCursor;
    }
  },
});
