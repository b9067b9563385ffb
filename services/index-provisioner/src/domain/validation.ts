/** A client error with a machine-readable code and the offending field. */
export class DomainError extends Error {
  constructor(
    readonly statusCode: 400 | 403 | 404 | 409 | 422,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/**
 * Name rules. Index names follow Splunk: lower-case letters, digits, `_` and `-`, not starting with
 * `_` or `-` (leading underscore is reserved for internal indexes), at most 80 characters.
 */
export const NAME_PATTERNS = {
  index: /^[a-z0-9][a-z0-9_-]{0,79}$/,
  /** An entry of srchIndexesAllowed/srchIndexesDefault: an index name (internal ones too) or a wildcard. */
  indexRef: /^[a-z0-9_*][a-z0-9_*-]{0,79}$/,
  role: /^[a-z0-9][a-z0-9_-]{0,63}$/,
  team: /^[a-z0-9][a-z0-9_.-]{0,63}$/,
  cluster: /^[a-z0-9][a-z0-9_-]{0,63}$/,
  strategy: /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  app: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
} as const;

/** Characters that could end a .conf line or confuse a reader: C0/C1 controls and Unicode line separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** JSON-schema pattern equivalents (for Fastify route schemas and the OpenAPI document). */
export const SCHEMA_PATTERNS = {
  index: '^[a-z0-9][a-z0-9_-]{0,79}$',
  indexRef: '^[a-z0-9_*][a-z0-9_*-]{0,79}$',
  role: '^[a-z0-9][a-z0-9_-]{0,63}$',
  team: '^[a-z0-9][a-z0-9_.-]{0,63}$',
  cluster: '^[a-z0-9][a-z0-9_-]{0,63}$',
  /** Free text: no control characters or line separators. */
  text: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$',
  /** Directory group: free text without `;` (the list separator) or `\` (line continuation). */
  group: '^[^;\\\\\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]+$',
} as const;

/** Names Splunk reserves or ships with; the service never manages them. */
export const RESERVED_INDEXES = new Set(['kvstore', 'main', 'history', 'summary', 'splunklogger']);
export const RESERVED_ROLES = new Set([
  'admin',
  'power',
  'user',
  'can_delete',
  'splunk-system-role',
  'sc_admin',
]);

export const LIMITS = {
  retentionDays: { min: 1, max: 3650 },
  frozenSecs: { min: 3600, max: 3650 * 86400 },
  maxTotalDataSizeMB: { min: 1, max: 100 * 1024 * 1024 },
  description: 1024,
  listItems: 200,
  groups: 100,
  group: 256,
} as const;

export function validateIndexName(name: string, field = 'name'): void {
  if (!NAME_PATTERNS.index.test(name))
    throw new DomainError(
      422,
      'invalid_name',
      'index names are 1-80 lower-case letters, digits, _ and -, not starting with _ or -',
      field,
    );
  if (RESERVED_INDEXES.has(name))
    throw new DomainError(422, 'reserved_name', `'${name}' is reserved by Splunk`, field);
}

export function validateRoleName(name: string, field = 'name'): void {
  if (!NAME_PATTERNS.role.test(name))
    throw new DomainError(
      422,
      'invalid_name',
      'role names are 1-64 lower-case letters, digits, _ and -, not starting with _ or -',
      field,
    );
  if (RESERVED_ROLES.has(name))
    throw new DomainError(422, 'reserved_name', `'${name}' is a built-in Splunk role`, field);
}

export function validateText(value: string, field: string, max: number = LIMITS.description): void {
  if (CONTROL_CHARS.test(value))
    throw new DomainError(
      422,
      'invalid_characters',
      'control characters and line breaks are not allowed',
      field,
    );
  if (value.length > max) throw new DomainError(422, 'too_long', `at most ${max} characters`, field);
}

export function validateGroup(value: string, field: string): void {
  if (
    value.length === 0 ||
    value.length > LIMITS.group ||
    value !== value.trim() ||
    CONTROL_CHARS.test(value) ||
    /[;\\]/.test(value)
  )
    throw new DomainError(
      422,
      'invalid_group',
      `group names are 1-${LIMITS.group} characters without ';', '\\', control characters or surrounding spaces`,
      field,
    );
}

export function checkRange(value: number, range: { min: number; max: number }, field: string): void {
  if (!Number.isInteger(value) || value < range.min || value > range.max)
    throw new DomainError(422, 'out_of_range', `must be an integer from ${range.min} to ${range.max}`, field);
}

/** Does `name` match a Splunk index pattern (`*` matches any run of characters)? */
export function matchesIndexPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(name);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
