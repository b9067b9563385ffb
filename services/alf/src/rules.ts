/**
 * The rules document: routing rules (index, sourcetype, indexed fields, or drop), rate limits by
 * service and level, and the global budget. It comes from a JSON file (`alf.rulesFile`, watched
 * and hot-reloaded) or inline JSON (`alf.rules`). `parseRules` checks everything and reports every
 * problem at once; a document with problems is refused (at start: ConfigError; at reload: the
 * previous rules stay).
 */
import { canonicalLevel, LEVEL_COUNT, LEVELS } from './levels.js';
import { splitPath } from './record.js';

/** A string matcher compiled from a glob (`*` any run of characters, `?` one character). */
export type Matcher = (value: string) => boolean;

export function compileGlob(glob: string): Matcher {
  if (glob === '*') return () => true;
  if (!/[*?]/.test(glob)) return (value) => value === glob;
  const source = glob
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 's');
  return (value) => re.test(value);
}

/** Matches any of several globs. */
export function compileGlobs(globs: string | string[]): Matcher {
  const list = (Array.isArray(globs) ? globs : [globs]).map(compileGlob);
  return list.length === 1 ? list[0]! : (value) => list.some((m) => m(value));
}

/** The rules of a route. */
export interface RouteRule {
  /** Position in the document, for messages and metrics. */
  readonly id: number;
  readonly service: Matcher | null;
  readonly topic: Matcher | null;
  /** Levels this rule matches (index = level), or null for all. */
  readonly levels: readonly boolean[] | null;
  /** Conditions on record fields: path → matcher of the value's text. */
  readonly fields: ReadonlyArray<{ path: string; test: Matcher }>;
  readonly drop: boolean;
  readonly index: string;
  readonly sourcetype: string;
  /** Static indexed fields added to every event of the route. */
  readonly staticFields: Readonly<Record<string, string | number | boolean>>;
}

export interface LimitRule {
  readonly id: number;
  readonly service: Matcher | null;
  readonly levels: readonly boolean[] | null;
  /** Events per second (0: drop everything that matches). */
  readonly rate: number;
  readonly burst: number;
  /** One bucket per service matching the rule (default), or one for the rule as a whole. */
  readonly per: 'service' | 'rule';
  /** The rule as written, for the status API. */
  readonly source: Record<string, unknown>;
}

export interface Budget {
  /** Events per second over all services (0: no limit). */
  readonly eventsPerSec: number;
  /** Record bytes per second over all services (0: no limit). */
  readonly bytesPerSec: number;
  /** Bucket size as seconds of the rate (default 1). */
  readonly burstSeconds: number;
}

export interface Rules {
  readonly routes: readonly RouteRule[];
  readonly defaultIndex: string;
  readonly defaultSourcetype: string;
  readonly limits: readonly LimitRule[];
  readonly budget: Budget;
  /** Record field paths the routes look at (the scanner must find them). */
  readonly fieldPaths: readonly string[];
  /** The document as given (for GET /admin/alf/rules). */
  readonly document: unknown;
}

export const EMPTY_RULES_DOCUMENT = {};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEC_NAME = /^[^\s"\\]{0,256}$/;

/**
 * Levels as rules write them: a name, a list of names, `*`, or a comparison (`<=info`, `>=warn`,
 * `<error`, `>debug`).
 */
export function parseLevels(value: unknown, where: string, problems: string[]): boolean[] | null {
  if (value === undefined || value === '*') return null;
  const names = Array.isArray(value) ? value : [value];
  const out = new Array<boolean>(LEVEL_COUNT).fill(false);
  for (const name of names) {
    if (typeof name !== 'string') {
      problems.push(`${where}: level must be a string or a list of strings`);
      return null;
    }
    const cmp = /^\s*(<=|>=|<|>)\s*(\w+)\s*$/.exec(name);
    const level = canonicalLevel(cmp ? cmp[2]! : name);
    if (level < 0) {
      problems.push(`${where}: unknown level '${name}' (use ${LEVELS.join(', ')})`);
      return null;
    }
    for (let l = 0; l < LEVEL_COUNT; l++) {
      const op = cmp?.[1];
      if (
        op === undefined
          ? l === level
          : op === '<='
            ? l <= level
            : op === '>='
              ? l >= level
              : op === '<'
                ? l < level
                : l > level
      )
        out[l] = true;
    }
  }
  return out;
}

function parseGlobs(value: unknown, where: string, problems: string[]): Matcher | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((g) => typeof g !== 'string' || g === '')) {
    problems.push(`${where}: must be a non-empty glob or a list of them`);
    return null;
  }
  return compileGlobs(list as string[]);
}

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  problems: string[],
) {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key))
      problems.push(`${where}: unknown key '${key}' (allowed: ${allowed.join(', ')})`);
}

function nonNegative(value: unknown, where: string, problems: string[], fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    problems.push(`${where}: must be a number >= 0`);
    return fallback;
  }
  return value;
}

/** Parse and check a rules document; throws RulesError listing every problem. */
export function parseRules(doc: unknown): Rules {
  const problems: string[] = [];
  const root = doc ?? {};
  if (!isRecord(root)) throw new RulesError(['the rules document must be a JSON object']);
  unknownKeys(root, ['routes', 'defaultRoute', 'limits', 'budget'], 'rules', problems);

  let defaultIndex = '';
  let defaultSourcetype = 'alf';
  if (root.defaultRoute !== undefined) {
    if (!isRecord(root.defaultRoute)) problems.push('defaultRoute: must be an object');
    else {
      unknownKeys(root.defaultRoute, ['index', 'sourcetype'], 'defaultRoute', problems);
      const { index, sourcetype } = root.defaultRoute;
      if (index !== undefined) {
        if (typeof index !== 'string' || !HEC_NAME.test(index))
          problems.push('defaultRoute.index: must be a name');
        else defaultIndex = index;
      }
      if (sourcetype !== undefined) {
        if (typeof sourcetype !== 'string' || !HEC_NAME.test(sourcetype))
          problems.push('defaultRoute.sourcetype: must be a name');
        else defaultSourcetype = sourcetype;
      }
    }
  }

  const routes: RouteRule[] = [];
  const fieldPaths = new Set<string>();
  if (root.routes !== undefined && !Array.isArray(root.routes)) problems.push('routes: must be a list');
  for (const [i, raw] of (Array.isArray(root.routes) ? root.routes : []).entries()) {
    const where = `routes[${i}]`;
    if (!isRecord(raw)) {
      problems.push(`${where}: must be an object`);
      continue;
    }
    unknownKeys(raw, ['match', 'index', 'sourcetype', 'fields', 'drop', 'name'], where, problems);
    const match = raw.match ?? {};
    if (!isRecord(match)) {
      problems.push(`${where}.match: must be an object`);
      continue;
    }
    unknownKeys(match, ['service', 'level', 'topic', 'fields'], `${where}.match`, problems);
    const service = parseGlobs(match.service, `${where}.match.service`, problems);
    const topic = parseGlobs(match.topic, `${where}.match.topic`, problems);
    const levels = parseLevels(match.level, `${where}.match.level`, problems);
    const fields: Array<{ path: string; test: Matcher }> = [];
    if (match.fields !== undefined) {
      if (!isRecord(match.fields))
        problems.push(`${where}.match.fields: must be an object of field path to glob`);
      else
        for (const [path, glob] of Object.entries(match.fields)) {
          try {
            splitPath(path);
          } catch (err) {
            problems.push(`${where}.match.fields: ${(err as Error).message}`);
            continue;
          }
          const test = parseGlobs(glob, `${where}.match.fields.${path}`, problems);
          if (test) {
            fields.push({ path, test });
            fieldPaths.add(path);
          }
        }
    }
    const drop = raw.drop === true;
    if (raw.drop !== undefined && typeof raw.drop !== 'boolean')
      problems.push(`${where}.drop: must be a boolean`);
    const index = raw.index ?? defaultIndex;
    const sourcetype = raw.sourcetype ?? defaultSourcetype;
    if (typeof index !== 'string' || !HEC_NAME.test(index)) problems.push(`${where}.index: must be a name`);
    if (typeof sourcetype !== 'string' || !HEC_NAME.test(sourcetype))
      problems.push(`${where}.sourcetype: must be a name`);
    if (drop && (raw.index !== undefined || raw.sourcetype !== undefined || raw.fields !== undefined))
      problems.push(`${where}: a drop route takes no index, sourcetype or fields`);
    const staticFields: Record<string, string | number | boolean> = {};
    if (raw.fields !== undefined) {
      if (!isRecord(raw.fields)) problems.push(`${where}.fields: must be a flat object`);
      else
        for (const [name, value] of Object.entries(raw.fields)) {
          if (
            typeof value === 'string' ||
            typeof value === 'boolean' ||
            (typeof value === 'number' && Number.isFinite(value))
          )
            staticFields[name] = value;
          else
            problems.push(
              `${where}.fields.${name}: must be a string, number or boolean (HEC fields are flat)`,
            );
        }
    }
    routes.push({
      id: i,
      service,
      topic,
      levels,
      fields,
      drop,
      index: String(index),
      sourcetype: String(sourcetype),
      staticFields,
    });
  }

  const limits: LimitRule[] = [];
  if (root.limits !== undefined && !Array.isArray(root.limits)) problems.push('limits: must be a list');
  for (const [i, raw] of (Array.isArray(root.limits) ? root.limits : []).entries()) {
    const where = `limits[${i}]`;
    if (!isRecord(raw)) {
      problems.push(`${where}: must be an object`);
      continue;
    }
    unknownKeys(raw, ['service', 'level', 'rate', 'burst', 'per', 'name'], where, problems);
    const service = parseGlobs(raw.service, `${where}.service`, problems);
    const levels = parseLevels(raw.level, `${where}.level`, problems);
    if (raw.rate === undefined) problems.push(`${where}.rate: required (events per second)`);
    const rate = nonNegative(raw.rate, `${where}.rate`, problems, 0);
    const burst = nonNegative(raw.burst, `${where}.burst`, problems, rate);
    if (raw.burst !== undefined && burst < 1 && rate > 0) problems.push(`${where}.burst: must be at least 1`);
    const per = raw.per ?? 'service';
    if (per !== 'service' && per !== 'rule') problems.push(`${where}.per: must be 'service' or 'rule'`);
    limits.push({
      id: i,
      service,
      levels,
      rate,
      burst: Math.max(burst, rate > 0 ? 1 : 0),
      per: per === 'rule' ? 'rule' : 'service',
      source: raw,
    });
  }

  let budget: Budget = { eventsPerSec: 0, bytesPerSec: 0, burstSeconds: 1 };
  if (root.budget !== undefined) {
    if (!isRecord(root.budget)) problems.push('budget: must be an object');
    else {
      unknownKeys(root.budget, ['eventsPerSec', 'bytesPerSec', 'burstSeconds'], 'budget', problems);
      budget = {
        eventsPerSec: nonNegative(root.budget.eventsPerSec, 'budget.eventsPerSec', problems, 0),
        bytesPerSec: nonNegative(root.budget.bytesPerSec, 'budget.bytesPerSec', problems, 0),
        burstSeconds: nonNegative(root.budget.burstSeconds, 'budget.burstSeconds', problems, 1),
      };
      if (budget.burstSeconds <= 0) problems.push('budget.burstSeconds: must be > 0');
    }
  }

  if (problems.length > 0) throw new RulesError(problems);
  return {
    routes,
    defaultIndex,
    defaultSourcetype,
    limits,
    budget,
    fieldPaths: [...fieldPaths],
    document: root,
  };
}

/** Problems in a rules document. */
export class RulesError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'RulesError';
  }
}

/** Parse rules JSON text (file or inline); RulesError on bad JSON too. */
export function parseRulesText(text: string, origin: string): Rules {
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new RulesError([`${origin}: not valid JSON: ${(err as Error).message}`]);
  }
  try {
    return parseRules(doc);
  } catch (err) {
    if (err instanceof RulesError) throw new RulesError(err.problems.map((p) => `${origin}: ${p}`));
    throw err;
  }
}
