/**
 * The record scanner: validates a log record's JSON and finds the few fields ALF needs (timestamp,
 * service, level, host, routing and indexed fields) without building any value. The record's bytes
 * are then embedded as they are in the HEC envelope, so no event is ever parsed into objects and
 * serialised again (the largest cost of log forwarding, see /work/shared/notes/platform.md).
 *
 * The scanner checks the whole JSON grammar (strings and their escapes, numbers, literals,
 * nesting), so what it accepts is what JSON.parse accepts (except lone UTF-8 errors, which HEC
 * tolerates). It only descends into objects a plan asks for; every other value is skipped.
 */

/** Value types recorded in a ScanResult slot. */
export const NONE = 0;
export const STRING = 1;
export const NUMBER = 2;
export const TRUE = 3;
export const FALSE = 4;
export const NULL = 5;
export const OBJECT = 6;
export const ARRAY = 7;

/** Scan outcomes. */
export const SCAN_OK = 0;
export const SCAN_NOT_JSON = 1;
export const SCAN_NOT_OBJECT = 2;

/** Deepest nesting accepted (deeper records are refused as not JSON, not risked on the stack). */
export const MAX_DEPTH = 64;

/** Fixed slots. */
export const SLOT_TIMESTAMP = 0;
export const SLOT_SERVICE = 1;
export const SLOT_LEVEL = 2;
export const SLOT_HOST = 3;
const FIXED_PATHS = ['timestamp', 'service', 'level', 'host'];

interface KeyEntry {
  key: Uint8Array;
  /** Slot recording this key's value, or -1 (a parent of nested keys only). */
  slot: number;
  /** Keys wanted inside this key's object value. */
  nested: KeyEntry[] | null;
}

/** Which record fields to find: the fixed ones plus `a` / `a.b` paths (at most one level deep). */
export class ScanPlan {
  readonly top: KeyEntry[] = [];
  /** Path of each slot. */
  readonly paths: string[] = [];
  readonly #slotOf = new Map<string, number>();

  constructor(extraPaths: Iterable<string> = []) {
    for (const path of FIXED_PATHS) this.slot(path);
    for (const path of extraPaths) this.slot(path);
  }

  get slots(): number {
    return this.paths.length;
  }

  /** The slot of a path, added if new. Paths are `key` or `parent.key`. */
  slot(path: string): number {
    const existing = this.#slotOf.get(path);
    if (existing !== undefined) return existing;
    const parts = splitPath(path);
    const slot = this.paths.length;
    this.paths.push(path);
    this.#slotOf.set(path, slot);
    if (parts.length === 1) {
      const entry = this.#entry(this.top, parts[0]!);
      entry.slot = slot;
    } else {
      const parent = this.#entry(this.top, parts[0]!);
      parent.nested ??= [];
      this.#entry(parent.nested, parts[1]!).slot = slot;
    }
    return slot;
  }

  slotOf(path: string): number | undefined {
    return this.#slotOf.get(path);
  }

  #entry(list: KeyEntry[], key: string): KeyEntry {
    const bytes = Buffer.from(key, 'utf8');
    let entry = list.find((e) => Buffer.compare(Buffer.from(e.key), bytes) === 0);
    if (!entry) {
      entry = { key: bytes, slot: -1, nested: null };
      list.push(entry);
    }
    return entry;
  }
}

/** A path is `key` or `parent.key`; a key may contain no dot. */
export function splitPath(path: string): string[] {
  const parts = path.split('.');
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new Error(`field path '${path}' must be 'name' or 'parent.name'`);
  return parts;
}

/** Where each wanted value lies in the record. For strings: the content between the quotes. */
export class ScanResult {
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly type: Uint8Array;
  /** 1 when a string value contains escapes (decode with JSON.parse). */
  readonly escaped: Uint8Array;

  constructor(readonly slots: number) {
    this.start = new Int32Array(slots);
    this.end = new Int32Array(slots);
    this.type = new Uint8Array(slots);
    this.escaped = new Uint8Array(slots);
  }

  reset(): void {
    this.type.fill(0);
  }
}

// Scanner state shared by the helpers (single-threaded; avoids allocating results)
let stringEscaped = false;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(b: Buffer, i: number, end: number): number {
  // Compact JSON has no whitespace: one comparison in the common case
  while (i < end) {
    const c = b[i]!;
    if (c > 0x20 || !isWs(c)) return i;
    i++;
  }
  return i;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** Strings up to this long are checked byte by byte; longer ones are searched natively. */
const SHORT_STRING = 24;

/** Index of the next backslash at or after the current position (cached per record). */
let nextBackslash = -1;
let backslashFrom = 0;

function backslashAt(b: Buffer, i: number): number {
  if (backslashFrom <= i) {
    if (nextBackslash === -2) return -1;
    if (nextBackslash >= i) return nextBackslash;
  }
  const at = b.indexOf(0x5c, i);
  backslashFrom = i;
  nextBackslash = at < 0 ? -2 : at;
  return at;
}

/** Validate the escape at `b[i]` (a backslash); returns the index after it, or -1. */
function escapeEnd(b: Buffer, i: number, end: number): number {
  const n = b[i + 1];
  if (n === 0x75) {
    if (i + 5 >= end || !isHex(b[i + 2]!) || !isHex(b[i + 3]!) || !isHex(b[i + 4]!) || !isHex(b[i + 5]!))
      return -1;
    return i + 6;
  }
  // " \ / b f n r t
  if (
    n === 0x22 ||
    n === 0x5c ||
    n === 0x2f ||
    n === 0x62 ||
    n === 0x66 ||
    n === 0x6e ||
    n === 0x72 ||
    n === 0x74
  )
    return i + 2;
  return -1;
}

/**
 * `i` is just after an opening quote; returns the index of the closing quote, or -1; sets
 * `stringEscaped` when the string holds escapes.
 *
 * The first bytes are checked one by one (escapes validated, raw control characters refused):
 * keys, levels, names and most values end there. Past them the closing quote is searched
 * natively (a byte loop in JavaScript is several times slower than Buffer#indexOf on log
 * messages); a quote preceded by an odd run of backslashes is escaped. Escape sequences and
 * control characters in that long remainder are not checked: HEC refuses such an event (code 6)
 * and ALF dead-letters it, so it is never lost, only caught one step later.
 */
function stringEnd(b: Buffer, i: number, end: number): number {
  stringEscaped = false;
  const stop = i + SHORT_STRING < end ? i + SHORT_STRING : end;
  let k = i;
  while (k < stop) {
    const c = b[k]!;
    if (c === 0x22) return k;
    if (c === 0x5c) {
      stringEscaped = true;
      k = escapeEnd(b, k, end);
      if (k < 0) return -1;
      continue;
    }
    if (c < 0x20) return -1;
    k++;
  }
  for (;;) {
    const q = b.indexOf(0x22, k);
    if (q < 0 || q >= end) return -1;
    let run = 0;
    for (let j = q - 1; j >= i && b[j] === 0x5c; j--) run++;
    if ((run & 1) === 0) {
      if (!stringEscaped) {
        const bs = run > 0 ? q - 1 : backslashAt(b, i);
        if (bs >= 0 && bs < q) stringEscaped = true;
      }
      return q;
    }
    stringEscaped = true;
    k = q + 1;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** `i` is at a number's first character; returns the index after it, or -1. */
function numberEnd(b: Buffer, i: number, end: number): number {
  if (b[i] === 0x2d) i++;
  if (i >= end) return -1;
  const c = b[i]!;
  if (c === 0x30) i++;
  else if (c >= 0x31 && c <= 0x39) {
    i++;
    while (i < end && isDigit(b[i])) i++;
  } else return -1;
  if (i < end && b[i] === 0x2e) {
    const s = ++i;
    while (i < end && isDigit(b[i])) i++;
    if (i === s) return -1;
  }
  if (i < end && (b[i]! | 0x20) === 0x65) {
    i++;
    if (i < end && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    const s = i;
    while (i < end && isDigit(b[i])) i++;
    if (i === s) return -1;
  }
  return i;
}

function literalEnd(b: Buffer, i: number, end: number, word: readonly number[]): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

const TRUE_BYTES = [0x74, 0x72, 0x75, 0x65];
const FALSE_BYTES = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL_BYTES = [0x6e, 0x75, 0x6c, 0x6c];

/** Type of the value starting at `b[i]` (valid or not). */
function typeAt(c: number): number {
  switch (c) {
    case 0x22:
      return STRING;
    case 0x7b:
      return OBJECT;
    case 0x5b:
      return ARRAY;
    case 0x74:
      return TRUE;
    case 0x66:
      return FALSE;
    case 0x6e:
      return NULL;
    default:
      return NUMBER;
  }
}

/** Skip (and validate) the value at `i`; returns the index after it, or -1. */
function skipValue(b: Buffer, i: number, end: number, depth: number): number {
  if (i >= end) return -1;
  const c = b[i]!;
  switch (c) {
    case 0x22: {
      const e = stringEnd(b, i + 1, end);
      return e < 0 ? -1 : e + 1;
    }
    case 0x7b:
      return depth >= MAX_DEPTH ? -1 : scanObject(b, i + 1, end, null, null, depth + 1);
    case 0x5b:
      return depth >= MAX_DEPTH ? -1 : skipArray(b, i + 1, end, depth + 1);
    case 0x74:
      return literalEnd(b, i, end, TRUE_BYTES);
    case 0x66:
      return literalEnd(b, i, end, FALSE_BYTES);
    case 0x6e:
      return literalEnd(b, i, end, NULL_BYTES);
    default:
      return numberEnd(b, i, end);
  }
}

function skipArray(b: Buffer, i: number, end: number, depth: number): number {
  i = skipWs(b, i, end);
  if (i < end && b[i] === 0x5d) return i + 1;
  for (;;) {
    i = skipValue(b, i, end, depth);
    if (i < 0) return -1;
    i = skipWs(b, i, end);
    if (i >= end) return -1;
    const c = b[i]!;
    if (c === 0x2c) {
      i = skipWs(b, i + 1, end);
      continue;
    }
    return c === 0x5d ? i + 1 : -1;
  }
}

function findKey(entries: KeyEntry[], b: Buffer, s: number, e: number): KeyEntry | null {
  const length = e - s;
  outer: for (let k = 0; k < entries.length; k++) {
    const entry = entries[k]!;
    const key = entry.key;
    if (key.length !== length) continue;
    for (let j = 0; j < length; j++) if (b[s + j] !== key[j]) continue outer;
    return entry;
  }
  return null;
}

/**
 * `i` is just after `{`. Records the values of `entries` in `out`; returns the index after the
 * closing brace, or -1.
 */
function scanObject(
  b: Buffer,
  i: number,
  end: number,
  entries: KeyEntry[] | null,
  out: ScanResult | null,
  depth: number,
): number {
  i = skipWs(b, i, end);
  if (i < end && b[i] === 0x7d) return i + 1;
  for (;;) {
    if (i >= end || b[i] !== 0x22) return -1;
    const ks = i + 1;
    // Keys are short and rarely escaped: find the closing quote inline
    let ke = ks;
    let keyEscaped = false;
    for (;;) {
      if (ke >= end) return -1;
      const c = b[ke]!;
      if (c === 0x22) break;
      if (c === 0x5c) {
        ke = stringEnd(b, ks, end);
        if (ke < 0) return -1;
        keyEscaped = true;
        break;
      }
      ke++;
    }
    i = skipWs(b, ke + 1, end);
    if (i >= end || b[i] !== 0x3a) return -1;
    i = skipWs(b, i + 1, end);
    const entry = entries !== null && !keyEscaped ? findKey(entries, b, ks, ke) : null;
    if (entry === null) {
      // Strings and numbers inline: most values are one of them
      const c = i < end ? b[i]! : 0;
      if (c === 0x22) {
        const e = stringEnd(b, i + 1, end);
        if (e < 0) return -1;
        i = e + 1;
      } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
        i = numberEnd(b, i, end);
        if (i < 0) return -1;
      } else {
        i = skipValue(b, i, end, depth);
        if (i < 0) return -1;
      }
    } else {
      const vs = i;
      if (i >= end) return -1;
      const type = typeAt(b[i]!);
      if (entry.nested !== null && type === OBJECT) {
        i = depth >= MAX_DEPTH ? -1 : scanObject(b, i + 1, end, entry.nested, out, depth + 1);
        stringEscaped = false;
      } else {
        i = skipValue(b, i, end, depth);
      }
      if (i < 0) return -1;
      const slot = entry.slot;
      if (slot >= 0 && out !== null) {
        out.type[slot] = type;
        if (type === STRING) {
          out.start[slot] = vs + 1;
          out.end[slot] = i - 1;
          out.escaped[slot] = stringEscaped ? 1 : 0;
        } else {
          out.start[slot] = vs;
          out.end[slot] = i;
          out.escaped[slot] = 0;
        }
      }
    }
    i = skipWs(b, i, end);
    if (i >= end) return -1;
    const c = b[i]!;
    if (c === 0x2c) {
      i = skipWs(b, i + 1, end);
      continue;
    }
    return c === 0x7d ? i + 1 : -1;
  }
}

/**
 * Validate `buf` as one JSON object (whitespace around it allowed) and record the plan's fields in
 * `out` (reset first). Returns SCAN_OK, SCAN_NOT_JSON or SCAN_NOT_OBJECT.
 */
export function scanRecord(buf: Buffer, plan: ScanPlan, out: ScanResult): number {
  out.reset();
  nextBackslash = -1;
  backslashFrom = 0;
  const end = buf.length;
  let i = skipWs(buf, 0, end);
  if (i >= end) return SCAN_NOT_JSON;
  if (buf[i] !== 0x7b) {
    // Valid JSON that is not an object is reported as such
    const e = skipValue(buf, i, end, 0);
    return e >= 0 && skipWs(buf, e, end) === end ? SCAN_NOT_OBJECT : SCAN_NOT_JSON;
  }
  i = scanObject(buf, i + 1, end, plan.top, out, 1);
  if (i < 0) return SCAN_NOT_JSON;
  return skipWs(buf, i, end) === end ? SCAN_OK : SCAN_NOT_JSON;
}

// ---- reading recorded values --------------------------------------------------------------------

/** A slot's value as a string: strings decoded, numbers and literals as their JSON text; undefined if absent or an object/array. */
export function slotString(buf: Buffer, out: ScanResult, slot: number): string | undefined {
  const type = out.type[slot]!;
  if (type === NONE || type === OBJECT || type === ARRAY) return undefined;
  const s = out.start[slot]!;
  const e = out.end[slot]!;
  if (type === STRING && out.escaped[slot] === 1)
    return JSON.parse(buf.toString('utf8', s - 1, e + 1)) as string;
  return buf.toString('utf8', s, e);
}

/** A slot's raw JSON text (strings with their quotes); undefined if absent. */
export function slotRaw(buf: Buffer, out: ScanResult, slot: number): string | undefined {
  const type = out.type[slot]!;
  if (type === NONE) return undefined;
  return type === STRING
    ? buf.toString('utf8', out.start[slot]! - 1, out.end[slot]! + 1)
    : buf.toString('utf8', out.start[slot]!, out.end[slot]!);
}

/** Whether a slot holds a scalar (string, number, boolean, null). */
export function slotIsScalar(out: ScanResult, slot: number): boolean {
  const type = out.type[slot]!;
  return type !== NONE && type !== OBJECT && type !== ARRAY;
}

// ---- timestamps ---------------------------------------------------------------------------------

/** Epoch numbers below this are seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;

function digits(b: Buffer, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = b[i + k]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * ISO-8601 date-time in bytes `[s, e)` → epoch ms, or NaN. Fast path for
 * `YYYY-MM-DD[T ]HH:MM[:SS[.fff...]][Z|±HH[:]MM]`; a date-time without offset is UTC; a date
 * alone is midnight UTC. Other forms go to Date.parse.
 */
export function isoToMs(b: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n >= 10 && b[s + 4] === 0x2d && b[s + 7] === 0x2d) {
    const y = digits(b, s, 4);
    const mo = digits(b, s + 5, 2);
    const d = digits(b, s + 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31) return Number.NaN;
    if (n === 10) return daysFromCivil(y, mo, d) * 86_400_000;
    const sep = b[s + 10];
    if ((sep === 0x54 || sep === 0x74 || sep === 0x20) && n >= 16 && b[s + 13] === 0x3a) {
      const h = digits(b, s + 11, 2);
      const mi = digits(b, s + 14, 2);
      if (h < 0 || h > 24 || mi < 0 || mi > 59) return Number.NaN;
      let i = s + 16;
      let sec = 0;
      let ms = 0;
      if (i < e && b[i] === 0x3a) {
        sec = digits(b, i + 1, 2);
        if (sec < 0 || sec > 60) return Number.NaN;
        i += 3;
        if (i < e && (b[i] === 0x2e || b[i] === 0x2c)) {
          i++;
          const fs = i;
          let scale = 100;
          while (i < e && isDigit(b[i])) {
            ms += (b[i]! - 0x30) * scale;
            scale /= 10;
            i++;
          }
          if (i === fs) return Number.NaN;
          ms = Math.floor(ms + 1e-9);
        }
      }
      let offsetMin = 0;
      if (i < e) {
        const z = b[i];
        if ((z === 0x5a || z === 0x7a) && i + 1 === e) i++;
        else if (z === 0x2b || z === 0x2d) {
          const oh = digits(b, i + 1, 2);
          let om = 0;
          let j = i + 3;
          if (j < e && b[j] === 0x3a) j++;
          if (j < e) {
            om = digits(b, j, 2);
            j += 2;
          }
          if (oh < 0 || oh > 23 || om < 0 || om > 59 || j !== e) return Number.NaN;
          offsetMin = (oh * 60 + om) * (z === 0x2d ? -1 : 1);
          i = e;
        } else return Number.NaN;
      }
      if (i !== e) return Number.NaN;
      return daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi - offsetMin) * 60 + sec) * 1000 + ms;
    }
  }
  return Date.parse(Buffer.from(b.buffer, b.byteOffset + s, n).toString('latin1'));
}

function parseNumberText(b: Buffer, s: number, e: number): number {
  return Number(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'));
}

/** An epoch number (ms, or seconds when below 1e11) → ms. */
export function epochToMs(n: number): number {
  return Math.abs(n) < SECONDS_BELOW ? Math.round(n * 1000) : Math.round(n);
}

/**
 * The record's timestamp in epoch ms, or NaN when absent or unreadable. Numbers (and numeric
 * strings) are epoch milliseconds, or seconds when below 1e11; strings are ISO-8601.
 */
export function slotTimestamp(buf: Buffer, out: ScanResult, slot: number): number {
  const type = out.type[slot];
  const s = out.start[slot]!;
  const e = out.end[slot]!;
  if (type === NUMBER) return epochToMs(parseNumberText(buf, s, e));
  if (type !== STRING || e <= s) return Number.NaN;
  if (out.escaped[slot] === 1) {
    const text = slotString(buf, out, slot)!;
    const n = Number(text);
    return Number.isFinite(n) && text.trim() !== '' ? epochToMs(n) : Date.parse(text);
  }
  const c = buf[s]!;
  // A numeric string ("1700000000123"): no '-' at index 4 means not an ISO date
  if ((c >= 0x30 && c <= 0x39 && buf[s + 4] !== 0x2d) || c === 0x2d) {
    const n = parseNumberText(buf, s, e);
    if (Number.isFinite(n)) return epochToMs(n);
  }
  return isoToMs(buf, s, e);
}
