// Local demo: an in-memory Kafka test broker, a HEC test receiver and ALF in one process, with a
// few services logging and one of them flooding debug lines. Prints the admin commands to try.
//   npm run build -w @fleet/testkit -w @fleet/chassis -w @fleet/alf && node services/alf/dist/dev.js
import { runService } from '@fleet/chassis';
import { createTestKeys } from '@fleet/chassis/testing';
import { startHecReceiver, startKafkaBroker } from '@fleet/testkit';
import { alf } from './service.js';

const TOKEN = '6d4c1f0e-7a7b-4c7e-8f4a-0d5e9b1a2c3d';
const broker = await startKafkaBroker({ topics: { logs: 3, 'alf.dlq': 1 } });
let received = 0;
const hec = await startHecReceiver({
  token: TOKEN,
  keepEvents: false,
  onEvent: () => {
    received++;
  },
});
const keys = await createTestKeys();
const adminToken = await keys.mint({ subject: 'demo-admin', scopes: ['admin'], expiresIn: '12h' });
Object.assign(process.env, {
  AUTH_PUBLIC_KEYS: keys.jwks,
  KAFKA_BROKERS: broker.brokers.join(','),
  KAFKA_FROM_BEGINNING: 'true',
  ALF_TOPICS: 'logs',
  HEC_URL: hec.url,
  HEC_TOKEN: TOKEN,
  ALF_RULES: JSON.stringify({
    routes: [{ match: { level: '>=error' }, index: 'errors' }],
    limits: [{ service: 'chatty-*', level: '<=debug', rate: 200, burst: 400 }],
  }),
  ...process.env,
});
const service = await runService(alf);
const base = `http://127.0.0.1:${service.config.port}`;

// Four calm services at 50 events/s each, and chatty-search at 2000 debug events/s
const services = ['checkout', 'users', 'search-api', 'payments'];
let n = 0;
const producer = setInterval(() => {
  const now = new Date().toISOString();
  const calm = services.flatMap((s) =>
    Array.from({ length: 5 }, () => ({
      value: JSON.stringify({
        timestamp: now,
        service: s,
        level: n++ % 20 === 0 ? 'error' : 'info',
        host: `${s}-1`,
        message: `request ${n}`,
      }),
      headers: { service: s, level: 'info' },
    })),
  );
  const flood = Array.from({ length: 200 }, () => ({
    value: JSON.stringify({
      timestamp: now,
      service: 'chatty-search',
      level: 'debug',
      host: 'search-7',
      message: `cache miss ${n++}`,
    }),
    headers: { service: 'chatty-search', level: 'debug' },
  }));
  broker.produce('logs', [...calm, ...flood]);
}, 100);
const report = setInterval(() => process.stderr.write(`HEC has received ${received} events\n`), 10_000);
service.onShutdown('demo', async () => {
  clearInterval(producer);
  clearInterval(report);
  await hec.close();
  await broker.close();
});

const auth = `-H "Authorization: Bearer $TOKEN"`;
process.stdout.write(
  [
    '',
    `ALF is forwarding topic 'logs' from ${broker.brokers[0]} to the HEC receiver at ${hec.url}  (Ctrl-C stops it)`,
    '',
    `  export TOKEN=${adminToken}`,
    `  curl ${auth} '${base}/admin/alf/top?window=10'          # who floods?`,
    `  curl ${auth} -X PUT -H 'content-type: application/json' -d '{"value":10000}' ${base}/admin/flags/alf.drop.service.chatty-search`,
    `  curl ${auth} ${base}/admin/alf/status`,
    `  curl ${base}/metrics | grep ^alf_`,
    `  curl ${base}/health/ready`,
    '',
  ].join('\n'),
);
