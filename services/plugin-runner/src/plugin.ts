/**
 * The plugin API. A plugin knows how to fetch the next page from one upstream API and nothing
 * else: the runner owns scheduling, state (the cursor), leases, retries and delivery.
 */
import type { Service } from '@fleet/chassis';
import { ConfigValidationError, MalformedPageError } from './errors.js';
import type { HttpClient } from './http.js';
import { applyDefaults, type JsonSchema, type ValidationIssue, validateJsonSchema } from './json-schema.js';

export type Logger = Service['log'];

export const EVENT_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type EventLevel = (typeof EVENT_LEVELS)[number];
export type FieldValue = string | number | boolean | null;

/** One upstream item, in ALF's input envelope plus a stable id. */
export interface PluginEvent {
  /** Stable id of the upstream item: the same item always gets the same id (the de-duplication key). */
  id: string;
  /** When it happened upstream: an ISO-8601 string, epoch ms, or a Date. */
  timestamp: string | number | Date;
  message: string;
  /** Default `info`. */
  level?: EventLevel;
  /** Originating service as ALF sees it (default: the plugin name). */
  service?: string;
  /** Flat fields (ALF may index them). */
  fields?: Record<string, FieldValue>;
  /** The upstream item itself (or the part worth keeping), carried in the record as `data`. */
  data?: unknown;
}

/** What a plugin yields: some events, and the cursor to resume after them. */
export interface Page<Cursor> {
  events: PluginEvent[];
  /** Where the next poll starts once this page is delivered. Must be JSON. */
  cursor: Cursor;
}

export interface PollContext<Config, Cursor> {
  /** The last committed cursor; undefined on the first run. */
  readonly cursor: Cursor | undefined;
  /** The instance's config: validated, defaults filled, secret references resolved. */
  readonly config: Config;
  /** fetch with timeouts, retries (backoff + jitter), Retry-After and rate-limit headers honoured. */
  readonly http: HttpClient;
  readonly log: Logger;
  /** Aborted when the run must stop (lease lost, shutdown, run timeout): pass it on, stop soon. */
  readonly signal: AbortSignal;
  readonly instance: { readonly id: string; readonly plugin: string };
}

/** A validator: returns the config (possibly normalised) or throws (ConfigValidationError for details). */
export type ConfigValidator<Config> = (config: unknown) => Config;

export interface PluginDefinition<Config, Cursor> {
  /** Lower case letters, digits, '-' and '_' (it appears in flag and metric names). */
  name: string;
  version: string;
  description?: string;
  /** A JSON schema (defaults are filled in) or a validator function. */
  configSchema: JsonSchema | ConfigValidator<Config>;
  /** Checks the schema cannot express (one of two keys...), after it: problems, or nothing. */
  checkConfig?(config: Config): ValidationIssue[] | string | undefined;
  /** Yield pages in order; the runner commits each page's cursor once its events are in Kafka. */
  poll(ctx: PollContext<Config, Cursor>): AsyncIterable<Page<Cursor>>;
  /**
   * Order of two cursors (negative: a before b). When given, a page whose cursor is before the
   * current one is refused as malformed: a cursor never moves backwards.
   */
  compareCursors?(a: Cursor, b: Cursor): number;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds plugins of every config and cursor type
export interface Plugin<Config = any, Cursor = any> extends PluginDefinition<Config, Cursor> {
  /** Validate (and normalise) an instance config; throws ConfigValidationError. */
  validateConfig(config: unknown): Config;
}

export const PLUGIN_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** Declare a plugin. Throws at once on a bad name or a missing poll function. */
export function definePlugin<Config = Record<string, unknown>, Cursor = unknown>(
  definition: PluginDefinition<Config, Cursor>,
): Plugin<Config, Cursor> {
  if (!PLUGIN_NAME.test(definition.name))
    throw new Error(`plugin name '${definition.name}' must match ${PLUGIN_NAME}`);
  if (typeof definition.poll !== 'function')
    throw new Error(`plugin '${definition.name}': poll must be a function`);
  if (typeof definition.version !== 'string' || !definition.version)
    throw new Error(`plugin '${definition.name}': version is required`);
  const schema = definition.configSchema;
  const validateConfig = (config: unknown): Config => {
    let valid: Config;
    if (typeof schema === 'function') {
      try {
        valid = schema(config);
      } catch (err) {
        if (err instanceof ConfigValidationError) throw err;
        throw new ConfigValidationError([{ path: '', message: (err as Error)?.message ?? String(err) }]);
      }
    } else {
      const filled = applyDefaults(schema, config ?? {});
      const issues = validateJsonSchema(schema, filled);
      if (issues.length > 0) throw new ConfigValidationError(issues);
      valid = filled as Config;
    }
    const extra = definition.checkConfig?.(valid);
    if (typeof extra === 'string') throw new ConfigValidationError([{ path: '', message: extra }]);
    if (extra && extra.length > 0) throw new ConfigValidationError(extra);
    return valid;
  };
  return Object.freeze({ ...definition, validateConfig });
}

/** A validated, normalised event ready to produce. */
export interface OutgoingEvent {
  /** `<instance>:<event id>`: the Kafka key and the `event-id` header. */
  key: string;
  timestampMs: number;
  level: EventLevel;
  service: string;
  /** The JSON record (ALF's input envelope). */
  value: string;
}

export const MAX_EVENT_ID_LENGTH = 512;
export const MAX_CURSOR_BYTES = 64 * 1024;

function toTimestamp(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === 'string' && value.trim() !== '') return Date.parse(value);
  return Number.NaN;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Check a yielded page and turn its events into records. Throws MalformedPageError naming the
 * first problem. Events with an id seen earlier in the same page are dropped (counted in `duplicates`).
 */
export function preparePage(
  page: unknown,
  context: {
    instance: string;
    plugin: string;
    maxEvents: number;
    current: unknown;
    compare?: ((a: unknown, b: unknown) => number) | undefined;
  },
): {
  events: OutgoingEvent[];
  cursor: unknown;
  cursorJson: string;
  duplicates: number;
  newestMs: number | undefined;
} {
  if (typeof page !== 'object' || page === null || Array.isArray(page))
    throw new MalformedPageError(`a page must be an object { events, cursor }, got ${describe(page)}`);
  const { events, cursor } = page as { events?: unknown; cursor?: unknown };
  if (!Array.isArray(events))
    throw new MalformedPageError(`page.events must be an array, got ${describe(events)}`);
  if (events.length > context.maxEvents)
    throw new MalformedPageError(
      `page has ${events.length} events, more than the ${context.maxEvents} allowed`,
    );
  if (cursor === undefined) throw new MalformedPageError('page.cursor is missing');
  let cursorJson: string;
  try {
    cursorJson = JSON.stringify(cursor);
  } catch (err) {
    throw new MalformedPageError(`page.cursor is not JSON: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(cursorJson) > MAX_CURSOR_BYTES)
    throw new MalformedPageError(`page.cursor is larger than ${MAX_CURSOR_BYTES} bytes`);
  const normalisedCursor = JSON.parse(cursorJson) as unknown;
  if (context.compare && context.current !== undefined && context.current !== null) {
    let order: number;
    try {
      order = context.compare(normalisedCursor, context.current);
    } catch (err) {
      throw new MalformedPageError(`cannot compare cursors: ${(err as Error).message}`);
    }
    if (order < 0)
      throw new MalformedPageError(
        `cursor moved backwards: ${cursorJson} is before the committed ${JSON.stringify(context.current)}`,
      );
  }
  const seen = new Set<string>();
  const out: OutgoingEvent[] = [];
  let duplicates = 0;
  let newestMs: number | undefined;
  events.forEach((raw: unknown, i) => {
    const where = `events[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new MalformedPageError(`${where} must be an object, got ${describe(raw)}`);
    const event = raw as Partial<PluginEvent>;
    if (typeof event.id !== 'string' || event.id === '' || event.id.length > MAX_EVENT_ID_LENGTH)
      throw new MalformedPageError(
        `${where}.id must be a non-empty string of at most ${MAX_EVENT_ID_LENGTH} characters`,
      );
    const timestampMs = toTimestamp(event.timestamp);
    if (Number.isNaN(timestampMs))
      throw new MalformedPageError(
        `${where}.timestamp must be an ISO-8601 string, epoch ms or a Date (event ${event.id})`,
      );
    if (typeof event.message !== 'string')
      throw new MalformedPageError(`${where}.message must be a string (event ${event.id})`);
    const level = event.level ?? 'info';
    if (!(EVENT_LEVELS as readonly string[]).includes(level))
      throw new MalformedPageError(
        `${where}.level must be one of ${EVENT_LEVELS.join(', ')} (event ${event.id})`,
      );
    if (event.service !== undefined && (typeof event.service !== 'string' || event.service === ''))
      throw new MalformedPageError(`${where}.service must be a non-empty string (event ${event.id})`);
    const fields = event.fields ?? {};
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
      throw new MalformedPageError(`${where}.fields must be a flat object (event ${event.id})`);
    for (const [name, value] of Object.entries(fields))
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value))
        throw new MalformedPageError(
          `${where}.fields.${name} must be a string, number, boolean or null (event ${event.id})`,
        );
    const key = `${context.instance}:${event.id}`;
    if (seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    const service = event.service ?? context.plugin;
    const record = {
      id: key,
      timestamp: new Date(timestampMs).toISOString(),
      service,
      level,
      message: event.message,
      fields: { ...fields, plugin: context.plugin, instance: context.instance, event_id: event.id },
      ...(event.data !== undefined ? { data: event.data } : {}),
    };
    let value: string;
    try {
      value = JSON.stringify(record);
    } catch (err) {
      throw new MalformedPageError(
        `${where}.data is not JSON: ${(err as Error).message} (event ${event.id})`,
      );
    }
    out.push({ key, timestampMs, level, service, value });
    if (newestMs === undefined || timestampMs > newestMs) newestMs = timestampMs;
  });
  return { events: out, cursor: normalisedCursor, cursorJson, duplicates, newestMs };
}
