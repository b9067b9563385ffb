/** Schema names the chassis accepts: plain lower-case identifiers, safe unquoted in search_path. */
export const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws a clear error unless `schema` is '' or matches SCHEMA_PATTERN. */
export function assertSchemaName(schema: string): void {
  if (schema !== '' && !SCHEMA_PATTERN.test(schema))
    throw new Error(`database schema '${schema}' must match ${SCHEMA_PATTERN}`);
}

/** `name` as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
