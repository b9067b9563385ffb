/**
 * Log levels. ALF knows six, ordered by priority (a higher number is more important and is
 * dropped last under a global budget). Input levels are matched case-insensitively, with common
 * aliases, and syslog severities 0-7 map onto them.
 */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LevelName = (typeof LEVELS)[number];
export const LEVEL_COUNT = LEVELS.length;

export const TRACE = 0;
export const DEBUG = 1;
export const INFO = 2;
export const WARN = 3;
export const ERROR = 4;
export const FATAL = 5;

/** Level of a record without a recognisable level. */
export const DEFAULT_LEVEL = INFO;

/** Syslog severity (RFC 5424) → level: emerg, alert, crit → fatal; err → error; warning → warn; notice, info → info; debug. */
const SYSLOG: readonly number[] = [FATAL, FATAL, FATAL, ERROR, WARN, INFO, INFO, DEBUG];

const NAMES: ReadonlyArray<[string, number]> = [
  ['trace', TRACE],
  ['finest', TRACE],
  ['debug', DEBUG],
  ['fine', DEBUG],
  ['info', INFO],
  ['information', INFO],
  ['notice', INFO],
  ['warn', WARN],
  ['warning', WARN],
  ['error', ERROR],
  ['err', ERROR],
  ['fatal', FATAL],
  ['critical', FATAL],
  ['crit', FATAL],
  ['alert', FATAL],
  ['emerg', FATAL],
  ['emergency', FATAL],
  ['panic', FATAL],
];

/** Names grouped by length, as bytes, for matching without decoding. */
const BY_LENGTH: Array<Array<{ bytes: Uint8Array; level: number }>> = [];
for (const [name, level] of NAMES) {
  const list = BY_LENGTH[name.length] ?? [];
  list.push({ bytes: Buffer.from(name, 'latin1'), level });
  BY_LENGTH[name.length] = list;
}

/**
 * The level named by bytes `[start, end)` of `buf` (a JSON string's content or a number's text),
 * case-insensitive; -1 when unknown.
 */
export function levelFromBytes(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 1) {
    const d = buf[start]! - 0x30;
    if (d >= 0 && d <= 7) return SYSLOG[d]!;
  }
  const candidates = BY_LENGTH[length];
  if (candidates === undefined) return -1;
  outer: for (const { bytes, level } of candidates) {
    for (let i = 0; i < length; i++) {
      // ASCII lower-casing: letters only differ in bit 0x20
      if ((buf[start + i]! | 0x20) !== bytes[i]) continue outer;
    }
    return level;
  }
  return -1;
}

/** The level of a string (`"WARN"`, `"warning"`, `"4"`), or -1. */
export function levelFromString(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^[0-7]$/.test(t)) return SYSLOG[Number(t)]!;
  for (const [name, level] of NAMES) if (name === t) return level;
  return -1;
}

/** The level of a syslog severity number, or -1. */
export function levelFromSyslog(n: number): number {
  return Number.isInteger(n) && n >= 0 && n <= 7 ? SYSLOG[n]! : -1;
}

export function levelName(level: number): LevelName {
  return LEVELS[level] ?? 'info';
}

/** A canonical level name (the six only), or -1: what rules and flags accept. */
export function canonicalLevel(name: string): number {
  return (LEVELS as readonly string[]).indexOf(name.trim().toLowerCase());
}
