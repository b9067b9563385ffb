import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestKeys } from '@fleet/chassis/testing';

/** index-provisioner's scopes (services/index-provisioner/src/domain/access.ts). */
export const INDEX_SCOPES = ['indexes:read', 'indexes:write', 'roles:write', 'deploy'] as const;
/** plugin-runner's default API scopes (`api.readScope` / `api.writeScope`). */
export const PLUGIN_SCOPES = ['plugins:read', 'plugins:write'] as const;

export interface DemoTokens {
  /** Every scope any service checks, plus `admin`; team `platform`. */
  admin: string;
  /** Read scopes only: reads the console and the APIs, changes nothing. */
  read: string;
  /** index-provisioner's scopes for team `payments`, no `admin`: what a product team gets. */
  team: string;
  /** JWKS of the demo's signing key: what every service trusts (AUTH_PUBLIC_KEYS). */
  jwks: string;
}

/** A fresh signing key and three tokens valid 12 h, also written to `<home>/{admin,read,team}.token`. */
export async function mintDemoTokens(home: string): Promise<DemoTokens> {
  const keys = await createTestKeys();
  const expiresIn = '12h';
  const [admin, read, team] = await Promise.all([
    keys.mint({
      subject: 'demo-admin',
      scopes: [...INDEX_SCOPES, ...PLUGIN_SCOPES, 'admin'],
      claims: { team: 'platform' },
      expiresIn,
    }),
    keys.mint({ subject: 'demo-viewer', scopes: ['indexes:read', 'plugins:read'], expiresIn }),
    keys.mint({
      subject: 'alice@payments',
      scopes: [...INDEX_SCOPES],
      claims: { team: 'payments' },
      expiresIn,
    }),
  ]);
  const tokens = { admin, read, team, jwks: keys.jwks };
  for (const name of ['admin', 'read', 'team'] as const)
    writeFileSync(join(home, `${name}.token`), `${tokens[name]}\n`, { mode: 0o600 });
  writeFileSync(join(home, 'jwks.json'), `${keys.jwks}\n`);
  return tokens;
}
