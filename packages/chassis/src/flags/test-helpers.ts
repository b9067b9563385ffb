import type { Logger } from 'pino';
import { createLogger } from '../logging/logger.js';
import type { Service, ServiceOptions } from '../service.js';
import { createTestKeys, LogCapture, type TestKeys } from '../testing/index.js';
import type { FlagStore } from './store.js';

let keysPromise: Promise<TestKeys> | undefined;

/** One signing key pair per test file. */
export function testKeys(): Promise<TestKeys> {
  keysPromise ??= createTestKeys();
  return keysPromise;
}

export async function adminToken(subject = 'alice'): Promise<string> {
  return (await testKeys()).mint({ subject, scopes: ['admin'], expiresIn: '1h' });
}

export interface TestService {
  service: Service;
  logs: LogCapture;
}

/** A service with test auth, the given env on top, listening nowhere until start(). */
export async function startTestService(
  env: Record<string, string> = {},
  options: { store?: FlagStore; name?: string } & Partial<Pick<ServiceOptions, 'routes'>> = {},
): Promise<TestService> {
  const keys = await testKeys();
  const logs = new LogCapture();
  const { createService } = await import('../service.js');
  const service = await createService({
    name: options.name ?? 'flags-test',
    version: '1.0.0',
    configSources: {
      env: {
        AUTH_PUBLIC_KEYS: keys.jwks,
        LOG_LEVEL: 'info',
        LOG_REQUESTS: 'false',
        PORT: '0',
        HOST: '127.0.0.1',
        ...env,
      },
      argv: [],
      files: [],
    },
    logDestination: logs,
    ...(options.store ? { flags: { store: options.store } } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  await service.app.ready();
  return { service, logs };
}

export function captureLogger(): { log: Logger; logs: LogCapture } {
  const logs = new LogCapture();
  const log = createLogger({ service: 'flags-test', version: '1.0.0', level: 'debug', destination: logs });
  return { log, logs };
}

export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 5, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A unique, valid flag name. */
export function uniqueFlag(prefix = 'test'): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/** The value of one sample of a Prometheus text exposition (undefined if absent). */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return undefined;
}
