import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createService } from '../service.js';
import { ConfigError } from './errors.js';
import { loadConfig, mergeSchemas } from './load.js';
import { chassisSchema } from './schema.js';

const serviceSchema = {
  greeting: { doc: 'greeting', format: String, default: 'hi', env: 'GREETING', arg: 'greeting' },
  db: {
    password: { doc: 'db password', format: String, default: '', env: 'DB_PASSWORD', sensitive: true },
    poolSize: { doc: 'pool', format: 'nat', default: 5, env: 'DB_POOL_SIZE' },
  },
  apiKey: {
    doc: 'required key',
    format: String,
    default: null as unknown as string,
    env: 'API_KEY',
    sensitive: true,
  },
};
const schema = mergeSchemas(chassisSchema as Record<string, unknown>, serviceSchema);

function tmp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('applies defaults < config files < environment < CLI args', () => {
    const file = tmp('a.json', JSON.stringify({ greeting: 'from-file', port: 4000, db: { poolSize: 7 } }));
    const yamlFile = tmp('b.yaml', 'greeting: from-yaml\nlog:\n  level: debug\n');
    const fromFiles = loadConfig<Record<string, unknown>>(schema, {
      env: { CONFIG_FILE: `${file}, ${yamlFile}`, API_KEY: 'k' },
      argv: [],
    });
    expect(fromFiles.get('greeting')).toBe('from-yaml');
    expect(fromFiles.get('port')).toBe(4000);
    expect(fromFiles.get('db.poolSize')).toBe(7);
    expect(fromFiles.get('log.level')).toBe('debug');

    const fromEnv = loadConfig(schema, {
      env: { CONFIG_FILE: file, GREETING: 'from-env', PORT: '5000', API_KEY: 'k' },
      argv: [],
    });
    expect(fromEnv.get('greeting' as never)).toBe('from-env');
    expect(fromEnv.get('port' as never)).toBe(5000);

    const fromArgs = loadConfig(schema, {
      env: { CONFIG_FILE: file, GREETING: 'from-env', API_KEY: 'k' },
      argv: ['--greeting', 'from-args', '--port', '6000'],
    });
    expect(fromArgs.get('greeting' as never)).toBe('from-args');
    expect(fromArgs.get('port' as never)).toBe(6000);
  });

  it('reads *_FILE variables for secrets', () => {
    const secret = tmp('password', 's3cret\n');
    const conf = loadConfig(schema, { env: { DB_PASSWORD_FILE: secret, API_KEY: 'k' }, argv: [] });
    expect(conf.get('db.password' as never)).toBe('s3cret');
  });

  it('lists every problem in one error: unknown key, wrong type, missing value, unreadable file, bad *_FILE', () => {
    const file = tmp('bad.json', JSON.stringify({ unknownKey: 1, db: { poolSize: -3 } }));
    const problems = problemsOf(() =>
      loadConfig(schema, {
        env: {
          CONFIG_FILE: `${file},/nonexistent/fleet.json`,
          PORT: 'not-a-port',
          LOG_LEVEL: 'loud',
          DB_PASSWORD_FILE: '/nonexistent/secret',
        },
        argv: [],
      }),
    );
    const text = problems.join('\n');
    expect(text).toMatch(/unknownKey.*not declared/);
    expect(text).toMatch(/port/);
    expect(text).toMatch(/log\.level/);
    expect(text).toMatch(/db\.poolSize/);
    expect(text).toMatch(/apiKey/);
    expect(text).toMatch(/\/nonexistent\/fleet\.json: file not found/);
    expect(text).toMatch(/DB_PASSWORD_FILE: cannot read \/nonexistent\/secret: ENOENT/);
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('never prints a sensitive value in an error', () => {
    const problems = problemsOf(() =>
      loadConfig(
        mergeSchemas(schema, { pin: { doc: 'pin', format: 'nat', default: 0, env: 'PIN', sensitive: true } }),
        {
          env: { PIN: 'hunter2-not-a-number', API_KEY: 'k' },
          argv: [],
        },
      ),
    );
    expect(problems.join('\n')).toMatch(/pin/);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('refuses a service schema that redefines a chassis key', () => {
    expect(() =>
      mergeSchemas(chassisSchema as Record<string, unknown>, { port: { default: 1, format: 'port' } }),
    ).toThrow(/'port' is defined twice/);
    expect(() =>
      mergeSchemas(chassisSchema as Record<string, unknown>, {
        log: { level: { default: 'x', format: String } },
      }),
    ).toThrow(/'log.level' is defined twice/);
  });

  it('createService exposes merged config and redacts secrets in /admin/info config rendering', async () => {
    const service = await createService({
      name: 'cfg',
      version: '1.0.0',
      config: serviceSchema,
      configSources: { env: { API_KEY: 'super-secret-key', LOG_LEVEL: 'silent', GREETING: 'hey' }, argv: [] },
    });
    expect(service.config.greeting).toBe('hey');
    expect(service.config.port).toBe(3000);
    expect(service.config.apiKey).toBe('super-secret-key');
    await service.app.ready();
    await service.stop();
  });

  it('createService throws ConfigError with exit code 78', async () => {
    const err = await createService({
      name: 'cfg',
      version: '1.0.0',
      config: serviceSchema,
      configSources: { env: { PORT: '99999' }, argv: [] },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(78);
    expect((err as ConfigError).message).toMatch(/Invalid configuration \(2 problems\)/);
  });

  it('reports cross-key problems (admin port, flags store, auth keys) together in one ConfigError', async () => {
    const err = await createService({
      name: 'cfg',
      version: '1.0.0',
      configSources: {
        env: {
          PORT: '4100',
          ADMIN_PORT: '4100',
          FLAGS_STORE: 'file',
          AUTH_PUBLIC_KEYS: 'not a key',
          LOG_LEVEL: 'silent',
        },
        argv: [],
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    expect(text).toMatch(/admin\.port: must differ from port/);
    expect(text).toMatch(/flags\.file: required/);
    expect(text).toMatch(/auth\.publicKeys/);
    expect((err as ConfigError).problems).toHaveLength(3);
  });
});
