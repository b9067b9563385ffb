/**
 * HEC batch parsing: a request body on /services/collector/event is a run of JSON objects one
 * after another, optionally separated by whitespace (`{...}{...}` or `{...}\n{...}`). It is not a
 * JSON array. This module finds each object's extent with a small scanner that knows JSON strings
 * (braces and escaped quotes inside strings do not count) and hands each slice to JSON.parse, so
 * a bad object is reported with its zero-based position in the batch, as HEC's
 * `invalid-event-number` does.
 */
import { HecCode } from './codes.js';

const QUOTE = 34; // "
const BACKSLASH = 92; // \
const OPEN_BRACE = 123; // {
const CLOSE_BRACE = 125; // }
const OPEN_BRACKET = 91; // [
const CLOSE_BRACKET = 93; // ]

function isJsonWhitespace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Index just past the matching close of the object opening at `start`, or -1 if it never closes. */
export function objectEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote: the next '"' not preceded by an odd run of backslashes.
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j < 0) return -1;
        let k = j - 1;
        let slashes = 0;
        while (text.charCodeAt(k) === BACKSLASH) {
          slashes++;
          k--;
        }
        if ((slashes & 1) === 0) break;
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/** One step of {@link nextObject}. */
export type NextObject =
  | { kind: 'end' }
  | { kind: 'object'; value: Record<string, unknown>; next: number }
  | { kind: 'invalid' };

/**
 * Reads the JSON object that starts at the first non-whitespace character at or after `pos`.
 * `end` when only whitespace is left; `invalid` when what follows is not one well-formed JSON
 * object (a top-level array, a bare string, an unterminated or malformed object...).
 */
export function nextObject(text: string, pos: number): NextObject {
  const n = text.length;
  let i = pos;
  while (i < n && isJsonWhitespace(text.charCodeAt(i))) i++;
  if (i >= n) return { kind: 'end' };
  if (text.charCodeAt(i) !== OPEN_BRACE) return { kind: 'invalid' };
  const end = objectEnd(text, i);
  if (end < 0) return { kind: 'invalid' };
  let value: unknown;
  try {
    value = JSON.parse(text.slice(i, end));
  } catch {
    return { kind: 'invalid' };
  }
  // JSON.parse of a '{'-led slice that parsed is always a plain object.
  return { kind: 'object', value: value as Record<string, unknown>, next: end };
}

/** Splits a whole body into its objects; for tests and tools (the receiver streams with nextObject). */
export function splitConcatenatedJson(text: string): {
  objects: Record<string, unknown>[];
  invalidAt?: number;
} {
  const objects: Record<string, unknown>[] = [];
  let pos = 0;
  for (;;) {
    const step = nextObject(text, pos);
    if (step.kind === 'end') return { objects };
    if (step.kind === 'invalid') return { objects, invalidAt: objects.length };
    objects.push(step.value);
    pos = step.next;
  }
}

/** Splits a /raw body into events: one per line, blank lines dropped (HEC's default line breaking). */
export function splitRawLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() !== '') out.push(line);
  }
  return out;
}

/** `fields` must be a flat object: values are scalars or arrays of scalars (Splunk's rule). */
export function fieldsAreValid(fields: unknown): boolean {
  if (fields === undefined || fields === null) return true;
  if (typeof fields !== 'object' || Array.isArray(fields)) return false;
  const record = fields as Record<string, unknown>;
  for (const key in record) {
    const v = record[key];
    if (v === null || typeof v !== 'object') continue;
    if (!Array.isArray(v)) return false;
    for (const item of v) {
      if (item !== null && typeof item === 'object') return false;
    }
  }
  return true;
}

const NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** HEC `time`: epoch seconds as a number or numeric string. `null` when unusable. */
export function parseTime(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value);
  return null;
}

/** True when the `event` value is blank in HEC's sense: null, empty or whitespace-only text. */
export function isBlankEvent(value: unknown): boolean {
  return value === null || (typeof value === 'string' && value.trim() === '');
}

/** Metadata keys that must be strings when present. */
const STRING_KEYS = ['host', 'source', 'sourcetype', 'index'] as const;

/**
 * Validates one parsed event object against HEC's rules, in HEC's order. Returns 0 when valid,
 * else the HEC code (6, 7, 12, 13 or 15).
 */
export function validateEventObject(
  obj: Record<string, unknown>,
  indexAllowed: (index: string) => boolean,
): number {
  if (!Object.hasOwn(obj, 'event')) return HecCode.EVENT_FIELD_REQUIRED;
  if (isBlankEvent(obj.event)) return HecCode.EVENT_FIELD_BLANK;
  for (const key of STRING_KEYS) {
    const v = obj[key];
    if (v !== undefined && typeof v !== 'string') return HecCode.INVALID_DATA_FORMAT;
  }
  if (obj.time !== undefined && parseTime(obj.time) === null) return HecCode.INVALID_DATA_FORMAT;
  const index = obj.index as string | undefined;
  if (index !== undefined && index !== '' && !indexAllowed(index)) return HecCode.INCORRECT_INDEX;
  if (!fieldsAreValid(obj.fields)) return HecCode.INDEXED_FIELDS_ERROR;
  return 0;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** HEC channels are GUIDs. */
export function isValidChannel(channel: string): boolean {
  return GUID.test(channel);
}
