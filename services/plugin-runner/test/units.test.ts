// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the secret reference syntax under test
// Pure units: scheduler, circuit breaker, config validation, secrets, selectors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { circuitAfterRun, circuitView } from '../src/circuit.js';
import { checkInstanceDefinition } from '../src/config.js';
import { ConfigValidationError, MalformedPageError } from '../src/errors.js';
import { jitteredBackoff, parseReset } from '../src/http.js';
import { validateJsonSchema } from '../src/json-schema.js';
import { definePlugin, preparePage } from '../src/plugin.js';
import { builtinPlugins } from '../src/plugins/index.js';
import { parseJsonPath, parseLinkHeader, selectPath } from '../src/plugins/util.js';
import { parseDuration, parseSchedule } from '../src/schedule.js';
import { redactConfig, resolveSecrets } from '../src/secrets.js';

describe('scheduler', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('1500')).toBe(1500);
    for (const bad of ['', 'soon', '5 minutes', '-1s', '0s', 0, -5])
      expect(() => parseDuration(bad as string)).toThrow();
  });

  it('interval schedules run every interval after the previous run', () => {
    const s = parseSchedule({ every: '5m' });
    const at = new Date('2026-01-01T10:00:00Z');
    expect(s.next(at).toISOString()).toBe('2026-01-01T10:05:00.000Z');
    expect(s.text).toBe('every 5m');
    expect(parseSchedule('30s').next(at).toISOString()).toBe('2026-01-01T10:00:30.000Z');
  });

  it('cron schedules follow the expression, in a time zone when given', () => {
    const at = new Date('2026-01-01T10:07:13Z');
    expect(parseSchedule({ cron: '*/15 * * * *' }).next(at).toISOString()).toBe('2026-01-01T10:15:00.000Z');
    // 03:00 in Stockholm is 02:00 UTC in winter
    expect(parseSchedule({ cron: '0 3 * * *', timezone: 'Europe/Stockholm' }).next(at).toISOString()).toBe(
      '2026-01-02T02:00:00.000Z',
    );
    // Six fields: seconds first
    expect(parseSchedule({ cron: '*/10 * * * * *' }).next(at).toISOString()).toBe('2026-01-01T10:07:20.000Z');
    expect(parseSchedule('0 * * * *').next(at).toISOString()).toBe('2026-01-01T11:00:00.000Z');
  });

  it('refuses bad schedules with a clear message', () => {
    expect(() => parseSchedule({ cron: 'every day' })).toThrow(/schedule.cron 'every day'/);
    expect(() => parseSchedule({ cron: '* * * * *', timezone: 'Mars/Olympus' })).toThrow(/Mars\/Olympus/);
    expect(() => parseSchedule({ every: '1m', cron: '* * * * *' })).toThrow(/unknown key/);
    expect(() => parseSchedule({})).toThrow(/'every' or 'cron'/);
    expect(() => parseSchedule(42)).toThrow();
    expect(() => parseSchedule({ every: '100ms' }, 1000)).toThrow(/at least 1000 ms/);
    expect(() => parseSchedule({ cron: '* * * * * *' }, 5000)).toThrow(/more often/);
  });
});

describe('circuit breaker', () => {
  const policy = { threshold: 3, cooldownMs: 1000, maxCooldownMs: 5000 };
  it('opens after the threshold, doubles the pause on each reopening, closes on success', () => {
    let state = { failures: 0, opens: 0, openUntil: null as number | null };
    state = circuitAfterRun(state, false, 0, policy);
    state = circuitAfterRun(state, false, 0, policy);
    expect(state).toEqual({ failures: 2, opens: 0, openUntil: null });
    expect(circuitView(state, 0, 3)).toBe('closed');
    state = circuitAfterRun(state, false, 100, policy);
    expect(state).toEqual({ failures: 3, opens: 1, openUntil: 1100 });
    expect(circuitView(state, 500, 3)).toBe('open');
    expect(circuitView(state, 1100, 3)).toBe('half-open');
    // The half-open trial fails: open again, twice as long
    state = circuitAfterRun(state, false, 1200, policy);
    expect(state).toEqual({ failures: 4, opens: 2, openUntil: 3200 });
    state = circuitAfterRun(state, false, 4000, policy);
    state = circuitAfterRun(state, false, 9000, policy);
    expect(state.openUntil! - 9000).toBe(5000);
    state = circuitAfterRun(state, true, 20_000, policy);
    expect(state).toEqual({ failures: 0, opens: 0, openUntil: null });
  });
});

describe('politeness helpers', () => {
  it('backoff grows exponentially with jitter, never 0, capped', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** (attempt - 1));
      expect(jitteredBackoff(attempt, 100, 1000, () => 0)).toBe(ceiling / 2);
      expect(jitteredBackoff(attempt, 100, 1000, () => 0.999999)).toBeLessThanOrEqual(ceiling);
    }
  });
  it('reads rate-limit resets as epoch seconds or seconds from now', () => {
    expect(parseReset('1700000000', 0)).toBe(1_700_000_000_000);
    expect(parseReset('30', 1000)).toBe(31_000);
    expect(parseReset('soon')).toBeUndefined();
    expect(parseReset(null)).toBeUndefined();
  });
});

describe('plugin config validation', () => {
  it('JSON schema: every problem with its path', () => {
    const schema = {
      type: 'object',
      required: ['url', 'jobs'],
      additionalProperties: false,
      properties: {
        url: { type: 'string', format: 'uri' },
        jobs: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        limit: { type: 'integer', minimum: 1, maximum: 10 },
        mode: { enum: ['a', 'b'] },
      },
    } as const;
    expect(validateJsonSchema(schema, { url: 'https://x.example', jobs: ['a'] })).toEqual([]);
    expect(
      validateJsonSchema(schema, { url: 'ftp://x', jobs: ['', 3], limit: 11.5, mode: 'c', extra: 1 }),
    ).toEqual([
      { path: '/url', message: 'must be an http(s) URL' },
      { path: '/jobs/0', message: 'must have at least 1 character(s)' },
      { path: '/jobs/1', message: 'must be string' },
      { path: '/limit', message: 'must be integer' },
      { path: '/mode', message: 'must be one of "a", "b"' },
      { path: '/extra', message: 'is not allowed (unknown property)' },
    ]);
    expect(validateJsonSchema(schema, {})).toEqual([
      { path: '/url', message: 'is required' },
      { path: '/jobs', message: 'is required' },
    ]);
  });

  it('a plugin fills defaults and rejects invalid instance config with a clear error', () => {
    const plugin = builtinPlugins.find((p) => p.name === 'github')!;
    expect(plugin.validateConfig({ org: 'acme' })).toMatchObject({
      org: 'acme',
      baseUrl: 'https://api.github.com',
      perPage: 100,
    });
    expect(() => plugin.validateConfig({ org: 'acme', repo: 'a/b' })).toThrow(/exactly one of 'org'/);
    try {
      plugin.validateConfig({ org: 'acme', perPage: 500 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigValidationError);
      expect((err as ConfigValidationError).details).toEqual([
        { path: '/perPage', message: 'must be <= 100' },
      ]);
      expect((err as Error).message).toBe('invalid config: /perPage must be <= 100');
    }
  });

  it('a validator function instead of a schema', () => {
    const plugin = definePlugin<{ n: number }>({
      name: 'fn-config',
      version: '1',
      configSchema: (raw) => {
        const n = (raw as { n?: unknown }).n;
        if (typeof n !== 'number') throw new Error('n must be a number');
        return { n };
      },
      async *poll() {},
    });
    expect(plugin.validateConfig({ n: 2 })).toEqual({ n: 2 });
    expect(() => plugin.validateConfig({})).toThrow(ConfigValidationError);
    expect(() =>
      definePlugin({ name: 'Bad Name', version: '1', configSchema: {}, async *poll() {} }),
    ).toThrow(/must match/);
  });

  it('instance definitions: every problem at once, config paths under /config', () => {
    const ctx = {
      plugins: new Map(builtinPlugins.map((p) => [p.name, p])),
      secrets: { env: {}, envPrefixes: ['PLUGIN_SECRET_'], fileDirs: [] },
      minIntervalMs: 1000,
    };
    const { issues } = checkInstanceDefinition(
      {
        id: 'Bad Id',
        plugin: 'jenkins',
        schedule: { every: '1ms' },
        config: { baseUrl: 'nope' },
        colour: 'red',
      },
      ctx,
    );
    expect(issues).toEqual([
      { path: '/colour', message: 'is not allowed (unknown property)' },
      { path: '/id', message: expect.stringContaining('must match') },
      { path: '/schedule', message: 'schedule.every must be at least 1000 ms' },
      { path: '/config/jobs', message: 'is required' },
      { path: '/config/baseUrl', message: 'must be an http(s) URL' },
    ]);
    expect(checkInstanceDefinition({ id: 'x', plugin: 'nope', schedule: '1h' }, ctx).issues[0]!.path).toBe(
      '/plugin',
    );
    const ok = checkInstanceDefinition(
      { id: 'gh', plugin: 'github', schedule: '5m', config: { org: 'acme' } },
      ctx,
    );
    expect(ok.def).toMatchObject({ id: 'gh', plugin: 'github', enabled: true, schedule: { every: '5m' } });
  });
});

describe('secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-runner-secrets-'));
  writeFileSync(join(dir, 'token'), 's3cr3t\n');
  const policy = {
    env: { PLUGIN_SECRET_GH: 'from-env', OTHER: 'no' },
    envPrefixes: ['PLUGIN_SECRET_'],
    fileDirs: [dir],
  };

  it('resolves *_FILE keys and ${ENV} references', () => {
    expect(
      resolveSecrets(
        {
          token_FILE: join(dir, 'token'),
          nested: { auth: 'Bearer ${PLUGIN_SECRET_GH}', list: ['${PLUGIN_SECRET_GH}'] },
          literal: '$${x}',
        },
        policy,
      ),
    ).toEqual({ token: 's3cr3t', nested: { auth: 'Bearer from-env', list: ['from-env'] }, literal: '${x}' });
  });

  it('refuses references outside the allowed variables and directories', () => {
    try {
      resolveSecrets(
        {
          a: '${OTHER}',
          b: '${PLUGIN_SECRET_MISSING}',
          c_FILE: '/etc/passwd',
          d_FILE: `${dir}/../x`,
          e_FILE: join(dir, 'missing'),
          f: 'x',
          f_FILE: join(dir, 'token'),
        },
        policy,
      );
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigValidationError).details.map((d) => d.path)).toEqual([
        '/a',
        '/b',
        '/c_FILE',
        '/d_FILE',
        '/e_FILE',
        '/f_FILE',
      ]);
    }
  });

  it('redacts literal secrets in what the API shows, keeps references', () => {
    expect(
      redactConfig({
        token: 'abc',
        token_FILE: '/run/secrets/x',
        password: '${PLUGIN_SECRET_PW}',
        org: 'acme',
        headers: { authorization: 'Bearer x' },
      }),
    ).toEqual({
      token: '[REDACTED]',
      token_FILE: '/run/secrets/x',
      password: '${PLUGIN_SECRET_PW}',
      org: 'acme',
      headers: { authorization: '[REDACTED]' },
    });
  });
});

describe('pages', () => {
  const context = { instance: 'inst', plugin: 'p', maxEvents: 3, current: null };
  it('normalises events into ALF records with stable keys', () => {
    const page = preparePage(
      {
        events: [
          { id: 'a', timestamp: '2026-01-01T00:00:00Z', message: 'hello', fields: { x: 1 } },
          {
            id: 'b',
            timestamp: 1_767_225_600_000,
            message: 'world',
            level: 'error',
            service: 'svc',
            data: { raw: true },
          },
          { id: 'a', timestamp: 0, message: 'dup' },
        ],
        cursor: { n: 2 },
      },
      context,
    );
    expect(page.duplicates).toBe(1);
    expect(page.events.map((e) => e.key)).toEqual(['inst:a', 'inst:b']);
    expect(JSON.parse(page.events[0]!.value)).toEqual({
      id: 'inst:a',
      timestamp: '2026-01-01T00:00:00.000Z',
      service: 'p',
      level: 'info',
      message: 'hello',
      fields: { x: 1, plugin: 'p', instance: 'inst', event_id: 'a' },
    });
    expect(JSON.parse(page.events[1]!.value)).toMatchObject({
      service: 'svc',
      level: 'error',
      data: { raw: true },
    });
    expect(page.newestMs).toBe(1_767_225_600_000);
  });

  it('refuses malformed pages with the reason', () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      [{ cursor: 1 }, /events must be an array/],
      [{ events: [] }, /cursor is missing/],
      [{ events: [{ timestamp: 0, message: '' }], cursor: 1 }, /events\[0\].id/],
      [{ events: [{ id: 'x', timestamp: 'yesterday', message: '' }], cursor: 1 }, /timestamp/],
      [{ events: [{ id: 'x', timestamp: 0 }], cursor: 1 }, /message/],
      [{ events: [{ id: 'x', timestamp: 0, message: '', level: 'loud' }], cursor: 1 }, /level/],
      [{ events: [{ id: 'x', timestamp: 0, message: '', fields: { a: { b: 1 } } }], cursor: 1 }, /fields.a/],
      [{ events: [1, 2, 3, 4], cursor: 1 }, /more than the 3/],
      [{ events: [], cursor: 10n }, /not JSON/],
    ];
    for (const [page, message] of bad) expect(() => preparePage(page, context)).toThrow(message);
    expect(() => preparePage(null, context)).toThrow(MalformedPageError);
  });
});

describe('selectors', () => {
  it('JSONPath-like paths', () => {
    const doc = { data: { items: [{ id: 1, 'a b': 'x' }] }, next: 'c2' };
    expect(parseJsonPath('$.data.items[0].id')).toEqual(['data', 'items', 0, 'id']);
    expect(selectPath(doc, '$.data.items')).toEqual([{ id: 1, 'a b': 'x' }]);
    expect(selectPath(doc, 'data.items[0].id')).toBe(1);
    expect(selectPath(doc, "$.data.items[0]['a b']")).toBe('x');
    expect(selectPath(doc, '$')).toBe(doc);
    expect(selectPath(doc, '$.nope.deeper')).toBeUndefined();
    expect(() => parseJsonPath('$..x')).toThrow();
  });
  it('Link headers', () => {
    expect(
      parseLinkHeader(
        '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=9>; rel="last"',
      ),
    ).toEqual({ next: 'https://api.github.com/x?page=2', last: 'https://api.github.com/x?page=9' });
    expect(parseLinkHeader(null)).toEqual({});
  });
});
