// Local demo: generate a signing key, trust it, print a ready admin token, then run the service.
import { runService } from '@fleet/chassis';
import { createTestKeys } from '@fleet/chassis/testing';
import { hello } from './service.js';

const keys = await createTestKeys();
process.env.AUTH_PUBLIC_KEYS ??= keys.jwks;
const token = await keys.mint({ subject: 'demo-admin', scopes: ['admin'], expiresIn: '12h' });
const service = await runService(hello);
const base = `http://127.0.0.1:${service.config.port}`;
process.stdout.write(
  [
    '',
    `hello is running on ${base}  (Ctrl-C stops it)`,
    '',
    `  export TOKEN=${token}`,
    `  curl ${base}/hello/world`,
    `  curl -H "Authorization: Bearer $TOKEN" ${base}/whoami`,
    `  curl ${base}/health/ready`,
    `  curl ${base}/metrics`,
    `  curl -H "Authorization: Bearer $TOKEN" ${base}/admin/info`,
    `  curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"level":"debug"}' ${base}/admin/log-level`,
    '',
  ].join('\n'),
);
