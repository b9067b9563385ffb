// Local run: trust a fresh signing key, print an admin token, run the service against KAFKA_BROKERS.
// The whole fleet with a test broker: `npm run demo` from the repository root (packages/demo).
import { runService } from '@fleet/chassis';
import { createTestKeys } from '@fleet/chassis/testing';
import { DEFAULT_PORT, FLOOD_FLAG, serviceOptions } from './service.js';

const keys = await createTestKeys();
process.env.AUTH_PUBLIC_KEYS ??= keys.jwks;
process.env.PORT ??= String(DEFAULT_PORT);
const token = await keys.mint({ subject: 'local-developer', scopes: ['admin'], roles: [], expiresIn: '12h' });
const service = await runService(serviceOptions);
const base = `http://127.0.0.1:${service.config.port}`;
const auth = '-H "Authorization: Bearer $TOKEN"';
process.stdout.write(
  [
    '',
    `${service.name} is running on ${base}  (Ctrl-C stops it)`,
    '',
    `  export TOKEN=${token}`,
    `  curl ${auth} ${base}/admin/loggen`,
    `  curl ${auth} -X PUT -H 'content-type: application/json' -d '{"rate":50}' ${base}/admin/loggen`,
    `  curl ${auth} -X PUT -H 'content-type: application/json' -d '{"value":10000}' ${base}/admin/flags/${FLOOD_FLAG}`,
    `  curl ${base}/metrics | grep ^loggen_`,
    '',
  ].join('\n'),
);
