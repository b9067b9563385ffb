/** Flag values are basis points: 0 = off, 10000 = on for everyone, 2500 = 25 % of keys. */
export const MAX_FLAG_VALUE = 10_000;
export const MAX_FLAG_NAME_LENGTH = 128;
export const MAX_DESCRIPTION_LENGTH = 1024;
export const MAX_OWNER_LENGTH = 128;
export const MAX_UPDATED_BY_LENGTH = 256;
export const FLAG_NAME_PATTERN = /^[a-z0-9_.-]{1,128}$/;

/** Where an effective value comes from: the store, a per-instance override, or the code default. */
export type FlagSource = 'store' | 'override' | 'default';

/** A flag as a store holds it. */
export interface StoredFlag {
  name: string;
  value: number;
  description: string;
  owner: string;
  /** ISO 8601, or null when the store does not track it (file store). */
  updatedAt: string | null;
  updatedBy: string;
  /** Monotonic per change where the store has one (postgres, memory, http); orders racing updates. */
  version?: number;
}

/** A change to write through a store. */
export interface FlagWrite {
  name: string;
  value: number;
  /** Omitted: keep the stored description (empty for a new flag). */
  description?: string;
  owner?: string;
  by: string;
}

/** A flag error with an HTTP status and a machine-readable code (the chassis errors plugin uses both). */
export class FlagError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'FlagError';
  }
}

export class InvalidFlagNameError extends FlagError {
  constructor(name: unknown) {
    super(
      `invalid flag name ${JSON.stringify(name)}: use 1-${MAX_FLAG_NAME_LENGTH} characters of a-z, 0-9, '_', '.', '-'`,
      400,
      'invalid_flag_name',
    );
  }
}

export class InvalidFlagValueError extends FlagError {
  constructor(value: unknown, detail = `an integer 0..${MAX_FLAG_VALUE} (basis points) or a percentage`) {
    super(`invalid flag value ${JSON.stringify(value)}: expected ${detail}`, 400, 'invalid_flag_value');
  }
}

export class FlagNotFoundError extends FlagError {
  constructor(name: string) {
    super(`no flag named '${name}'`, 404, 'flag_not_found');
  }
}

export class FlagStoreReadOnlyError extends FlagError {
  constructor(kind: string) {
    super(
      `the ${kind} flag store is read-only: change the flags at their source`,
      409,
      'flag_store_read_only',
    );
  }
}

export class FlagStoreUnavailableError extends FlagError {
  constructor(kind: string, cause: unknown) {
    super(
      `the ${kind} flag store is unavailable: ${(cause as Error)?.message ?? String(cause)}`,
      503,
      'flag_store_unavailable',
    );
  }
}

export function isValidFlagName(name: unknown): name is string {
  return typeof name === 'string' && FLAG_NAME_PATTERN.test(name);
}

export function isValidFlagValue(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_FLAG_VALUE;
}

export function assertFlagName(name: unknown): asserts name is string {
  if (!isValidFlagName(name)) throw new InvalidFlagNameError(name);
}

/**
 * A flag value in any human form: basis points (2500, "2500"), a percentage ("25%", "0.5%",
 * whole basis points only), or a boolean (true = 10000). Throws InvalidFlagValueError.
 */
export function parseFlagValue(input: unknown): number {
  if (typeof input === 'boolean') return input ? MAX_FLAG_VALUE : 0;
  if (typeof input === 'number') {
    if (isValidFlagValue(input)) return input;
    throw new InvalidFlagValueError(input);
  }
  if (typeof input === 'string') {
    const text = input.trim();
    const percent = /^(\d{1,3})(?:\.(\d{1,2}))?\s*%$/.exec(text);
    if (percent) {
      const value = Number(percent[1]) * 100 + Number((percent[2] ?? '').padEnd(2, '0'));
      if (value <= MAX_FLAG_VALUE) return value;
    } else if (/^\d{1,5}$/.test(text)) {
      const value = Number(text);
      if (value <= MAX_FLAG_VALUE) return value;
    } else if (text === 'on' || text === 'true') return MAX_FLAG_VALUE;
    else if (text === 'off' || text === 'false') return 0;
  }
  throw new InvalidFlagValueError(input);
}

/** "25%" style rendering of basis points. */
export function formatPercent(value: number): string {
  return `${Number((value / 100).toFixed(2))}%`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(raw: Record<string, unknown>, key: string, max: number): string {
  const value = raw[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new Error(`${key} must be a string`);
  if (value.length > max) throw new Error(`${key} is longer than ${max} characters`);
  return value;
}

/**
 * Validate one record coming from a store (a row, a notification, a file entry, an HTTP item).
 * Throws an Error saying what is wrong; the caller rejects the update and keeps its snapshot.
 */
export function toStoredFlag(raw: unknown): StoredFlag {
  if (!isRecord(raw)) throw new Error('flag record is not an object');
  const { name, value } = raw;
  if (!isValidFlagName(name)) throw new Error(new InvalidFlagNameError(name).message);
  if (!isValidFlagValue(value))
    throw new Error(`flag '${name}': value ${JSON.stringify(value)} is not an integer 0..${MAX_FLAG_VALUE}`);
  let updatedAt: string | null = null;
  const rawAt = raw.updatedAt ?? raw.updated_at;
  if (rawAt !== undefined && rawAt !== null) {
    const at = rawAt instanceof Date ? rawAt : new Date(String(rawAt));
    if (Number.isNaN(at.getTime())) throw new Error(`flag '${name}': updated_at is not a timestamp`);
    updatedAt = at.toISOString();
  }
  const rawVersion = raw.version;
  let version: number | undefined;
  if (rawVersion !== undefined && rawVersion !== null) {
    version = Number(rawVersion);
    if (!Number.isSafeInteger(version) || version < 0) throw new Error(`flag '${name}': bad version`);
  }
  const flag: StoredFlag = {
    name,
    value,
    description: optionalString(raw, 'description', MAX_DESCRIPTION_LENGTH),
    owner: optionalString(raw, 'owner', MAX_OWNER_LENGTH),
    updatedAt,
    updatedBy: optionalString(
      { updatedBy: raw.updatedBy ?? raw.updated_by },
      'updatedBy',
      MAX_UPDATED_BY_LENGTH,
    ),
  };
  if (version !== undefined) flag.version = version;
  return flag;
}
