import { type CryptoKey, importJWK, importPKCS8, type JWK, type KeyObject, SignJWT } from 'jose';

export interface MintOptions {
  /** Signing key: a private JWK, a PKCS#8 PEM string, or a key object. */
  privateKey: JWK | string | CryptoKey | KeyObject;
  /** JWS algorithm (default ES256). */
  alg?: string;
  kid?: string;
  issuer?: string;
  audience?: string | string[];
  subject: string;
  scopes?: string[];
  roles?: string[];
  /** Lifetime, as seconds or a jose time span such as '5m' (default '5m'). */
  expiresIn?: number | string;
  /** Extra claims (e.g. `team` for owner checks). */
  claims?: Record<string, unknown>;
}

async function signingKey(options: MintOptions, alg: string): Promise<CryptoKey | KeyObject | Uint8Array> {
  const { privateKey } = options;
  if (typeof privateKey === 'string') return importPKCS8(privateKey, alg);
  if ('kty' in privateKey) return importJWK(privateKey as JWK, alg);
  return privateKey as CryptoKey | KeyObject;
}

/** Sign a short-lived JWT for service-to-service calls (and tests) that chassis auth accepts. */
export async function mintToken(options: MintOptions): Promise<string> {
  const alg = options.alg ?? 'ES256';
  const jwt = new SignJWT({
    ...options.claims,
    ...(options.scopes ? { scope: options.scopes.join(' ') } : {}),
    ...(options.roles ? { roles: options.roles } : {}),
  })
    .setProtectedHeader({ alg, typ: 'JWT', ...(options.kid ? { kid: options.kid } : {}) })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m');
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(await signingKey(options, alg));
}
