/**
 * A small JSON Schema validator for plugin configuration: the keywords a config needs (types,
 * properties, required, additionalProperties, items, enum, const, bounds, lengths, pattern,
 * `format: "uri"`, anyOf/oneOf) and `default` filling. Unknown keywords are ignored.
 */

export type JsonSchemaType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

export interface JsonSchema {
  type?: JsonSchemaType | JsonSchemaType[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  /** `uri`: an absolute http(s) URL. Other formats are not checked. */
  format?: string;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** One problem: where (`/org`, `/jobs/2`) and what. */
export interface ValidationIssue {
  path: string;
  message: string;
}

function typeOf(value: unknown): JsonSchemaType | 'undefined' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonSchemaType;
}

function typeMatches(expected: JsonSchemaType, value: unknown): boolean {
  const actual = typeOf(value);
  return actual === expected || (expected === 'number' && actual === 'integer');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function isUri(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function check(schema: JsonSchema, value: unknown, path: string, issues: ValidationIssue[]): void {
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      issues.push({ path, message: `must be ${types.join(' or ')}` });
      return;
    }
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    issues.push({ path, message: `must be ${JSON.stringify(schema.const)}` });
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    issues.push({ path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      issues.push({ path, message: `must be >= ${schema.minimum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      issues.push({ path, message: `must be > ${schema.exclusiveMinimum}` });
    if (schema.maximum !== undefined && value > schema.maximum)
      issues.push({ path, message: `must be <= ${schema.maximum}` });
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      issues.push({ path, message: `must have at least ${schema.minLength} character(s)` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      issues.push({ path, message: `must have at most ${schema.maxLength} character(s)` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      issues.push({ path, message: `must match ${schema.pattern}` });
    if (schema.format === 'uri' && !isUri(value)) issues.push({ path, message: 'must be an http(s) URL' });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      issues.push({ path, message: `must have at least ${schema.minItems} item(s)` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      issues.push({ path, message: `must have at most ${schema.maxItems} item(s)` });
    if (schema.items)
      for (const [i, item] of value.entries()) check(schema.items, item, pointer(path, i), issues);
  }
  if (isObject(value)) {
    for (const key of schema.required ?? [])
      if (value[key] === undefined) issues.push({ path: pointer(path, key), message: 'is required' });
    const properties = schema.properties ?? {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const sub = properties[key];
      if (sub) check(sub, item, pointer(path, key), issues);
      else if (schema.additionalProperties === false)
        issues.push({ path: pointer(path, key), message: 'is not allowed (unknown property)' });
      else if (isObject(schema.additionalProperties))
        check(schema.additionalProperties, item, pointer(path, key), issues);
    }
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const matching = alternatives.filter((alt) => {
      const sub: ValidationIssue[] = [];
      check(alt, value, path, sub);
      return sub.length === 0;
    }).length;
    if (matching === 0) issues.push({ path, message: 'matches none of the allowed forms' });
    else if (schema.oneOf && matching > 1)
      issues.push({ path, message: 'matches more than one allowed form' });
  }
}

/** A copy of `value` with the schema's defaults filled in where properties are missing. */
export function applyDefaults(schema: JsonSchema, value: unknown): unknown {
  if (value === undefined && schema.default !== undefined) return structuredClone(schema.default);
  if (isObject(value) && schema.properties) {
    const out: Record<string, unknown> = { ...value };
    for (const [key, sub] of Object.entries(schema.properties)) {
      const filled = applyDefaults(sub, out[key]);
      if (filled !== undefined) out[key] = filled;
    }
    return out;
  }
  if (Array.isArray(value) && schema.items) return value.map((item) => applyDefaults(schema.items!, item));
  return value;
}

/** Every problem of `value` against `schema` (empty: valid). Paths are JSON pointers ('' is the root). */
export function validateJsonSchema(schema: JsonSchema, value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  check(schema, value, '', issues);
  return issues;
}
