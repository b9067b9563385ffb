import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

// A child process builds and starts services through the package entry and reports which of the
// heavy optional packages it has loaded: ESM resolutions (jose) through a loader hook, CommonJS ones
// (the OTel SDK, kafkajs, yaml) from the require cache.
const CHILD = `
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const resolved = new Set();
port1.on('message', (url) => resolved.add(url));
const hook = 'let port; export function initialize(data) { port = data.port; }' +
  'export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
register('data:text/javascript,' + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
const HEAVY = /node_modules\\/(@opentelemetry\\/(sdk-node|sdk-trace-base|sdk-trace-node|instrumentation-undici|exporter-[a-z-]+|resources)|kafkajs|yaml|jose)\\//;
const settle = () => new Promise((r) => setTimeout(r, 100));
const heavy = async () => {
  await settle();
  const files = [...resolved, ...Object.keys(createRequire(import.meta.url).cache)];
  return [...new Set(files.map((f) => f.match(HEAVY)?.[1]).filter(Boolean))].sort();
};
const { createService } = await import(process.argv[1]);
const report = {};
report.onImport = await heavy();

const run = async (env) => {
  const service = await createService({
    name: 'lazy', version: '1.0.0',
    configSources: { env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }, argv: [], files: [] },
    logDestination: { write() {} },
  });
  await service.start();
  const ready = await service.app.inject({ method: 'GET', url: '/health/ready' });
  await service.stop();
  return { ready: ready.statusCode };
};
report.idle = await run({});
report.afterIdle = await heavy();
report.configured = await run({ TRACING_ENABLED: 'true', KAFKA_BROKERS: '127.0.0.1:9', AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks' });
report.afterConfigured = await heavy();
port1.close();
console.log(JSON.stringify(report));
`;

it('loads no OTel SDK, kafkajs, jose or yaml for a service without tracing, Kafka and auth; each once configured', async () => {
  const main = fileURLToPath(new URL('./index.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD, '--', main],
    {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      timeout: 30_000,
      // No collector: the SDK must not try to export anything
      env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
    },
  );
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    onImport: string[];
    idle: { ready: number };
    afterIdle: string[];
    configured: { ready: number };
    afterConfigured: string[];
  };
  expect(report.onImport).toEqual([]);
  expect(report.idle.ready).toBe(200);
  expect(report.afterIdle).toEqual([]);
  expect(report.configured.ready).toBe(200);
  // The hook does see them once a service needs them
  expect(report.afterConfigured).toEqual(
    expect.arrayContaining([
      '@opentelemetry/sdk-node',
      '@opentelemetry/instrumentation-undici',
      'kafkajs',
      'jose',
    ]),
  );
}, 40_000);
