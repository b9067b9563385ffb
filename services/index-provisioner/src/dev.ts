/**
 * Local demo: generates a signing key, starts the service with it (embedded PGlite in .dev/pglite,
 * one "dev" cluster deploying to the directory .dev/splunk), and prints ready tokens and commands.
 * Not for production: the key pair lives only in this process.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { runService } from '@fleet/chassis';
import { createTestKeys } from '@fleet/chassis/testing';
import { SCOPES } from './domain/access.js';
import { indexProvisionerOptions } from './service.js';

const home = resolve(process.env.DEV_HOME ?? '.dev');
const splunkRoot = resolve(home, 'splunk');
mkdirSync(home, { recursive: true });

const keys = await createTestKeys();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  AUTH_PUBLIC_KEYS: keys.jwks,
  PORT: process.env.PORT ?? '3000',
  HOST: process.env.HOST ?? '127.0.0.1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  PROVISIONER_CLUSTERS:
    process.env.PROVISIONER_CLUSTERS ??
    JSON.stringify({ dev: { clustered: true, target: { type: 'directory', root: splunkRoot } } }),
};
if (!env.DATABASE_URL && env.PGLITE_DATA_DIR === undefined) env.PGLITE_DATA_DIR = resolve(home, 'pglite');

process.stdout.write(
  'index-provisioner dev: starting (the first start initialises the embedded database, ~10 s)\n',
);
const service = await runService(
  indexProvisionerOptions({ configSources: { env, argv: process.argv.slice(2) } }),
);

const all = Object.values(SCOPES);
const adminToken = await keys.mint({
  subject: 'dev-admin',
  scopes: [...all, service.config.admin.scope],
  claims: { team: 'platform' },
  expiresIn: '12h',
});
const teamToken = await keys.mint({
  subject: 'alice@payments',
  scopes: all,
  claims: { team: 'payments' },
  expiresIn: '12h',
});
writeFileSync(resolve(home, 'admin.token'), `${adminToken}\n`, { mode: 0o600 });
writeFileSync(resolve(home, 'team.token'), `${teamToken}\n`, { mode: 0o600 });
writeFileSync(resolve(home, 'jwks.json'), `${keys.jwks}\n`);

const address = service.app.server.address();
const url =
  address && typeof address === 'object'
    ? `http://${address.address}:${address.port}`
    : `http://${env.HOST}:${env.PORT}`;
const rel = (p: string) => {
  const r = relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
};
process.stdout.write(`
index-provisioner dev server: ${url}   (OpenAPI: ${url}/docs/openapi.json)
  database:  ${env.DATABASE_URL ? 'DATABASE_URL' : `PGlite in ${rel(env.PGLITE_DATA_DIR || home)}`}
  cluster:   dev -> directory ${rel(splunkRoot)}/manager-apps/fleet_indexes/local
  tokens:    ${rel(home)}/admin.token (admin, team platform), ${rel(home)}/team.token (team payments), valid 12 h
  AUTH_PUBLIC_KEYS (to verify these tokens elsewhere): ${rel(home)}/jwks.json

Try it (another terminal, same directory):
  TOKEN=$(cat ${rel(home)}/team.token)
  curl -s -X POST ${url}/v1/indexes -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"name":"payments_api","datatype":"event","retention":{"days":30},"maxTotalDataSizeMB":10240,"owner":"payments","cluster":"dev"}'
  curl -s "${url}/v1/render?cluster=dev" -H "authorization: Bearer $TOKEN"
  curl -s -X POST ${url}/v1/deployments -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"cluster":"dev"}'
  curl -s ${url}/v1/audit -H "authorization: Bearer $TOKEN"

Stop with Ctrl-C.
`);
