import { createPrivateKey, type KeyObject as NodeKeyObject } from 'node:crypto';
import type { CryptoKey, JWK, KeyObject } from 'jose';

export interface MintOptions {
  /** Signing key: a private JWK, a PKCS#8 PEM string, or a key object. */
  privateKey: JWK | string | CryptoKey | KeyObject;
  /** JWS algorithm (default: the JWK's `alg`, else inferred from the key type: RS256, ES256/384/512, EdDSA). */
  alg?: string;
  /** Key id for the header (default: the JWK's `kid`). */
  kid?: string;
  issuer?: string;
  audience?: string | string[];
  subject: string;
  /** Sent as a space-separated `scope` claim. */
  scopes?: string[];
  roles?: string[];
  /** Lifetime: seconds from now (negative: already expired) or a jose time span such as '5m' (default '5m'). */
  expiresIn?: number | string;
  /** Not valid before: seconds from now or a jose time span such as '1m' (default: no `nbf`). */
  notBefore?: number | string;
  /** Extra claims (e.g. `team` for owner checks). */
  claims?: Record<string, unknown>;
}

const EC_ALGORITHMS: Record<string, string> = {
  'P-256': 'ES256',
  prime256v1: 'ES256',
  'P-384': 'ES384',
  secp384r1: 'ES384',
  'P-521': 'ES512',
  secp521r1: 'ES512',
};

function algorithmOfNodeKey(key: NodeKeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec':
      return EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ''];
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** The algorithm a key implies, so callers need not repeat it. */
function inferAlgorithm(privateKey: MintOptions['privateKey']): string | undefined {
  if (typeof privateKey === 'string') {
    try {
      return algorithmOfNodeKey(createPrivateKey(privateKey));
    } catch {
      return undefined;
    }
  }
  if ('kty' in privateKey) {
    const jwk = privateKey as JWK;
    if (jwk.alg) return jwk.alg;
    if (jwk.kty === 'RSA') return 'RS256';
    if (jwk.kty === 'EC') return EC_ALGORITHMS[jwk.crv ?? ''];
    if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
    return undefined;
  }
  if ('asymmetricKeyType' in privateKey) return algorithmOfNodeKey(privateKey as unknown as NodeKeyObject);
  const algorithm = (privateKey as CryptoKey).algorithm as { name?: string; namedCurve?: string } | undefined;
  switch (algorithm?.name) {
    case 'RSASSA-PKCS1-v1_5':
      return 'RS256';
    case 'RSA-PSS':
      return 'PS256';
    case 'ECDSA':
      return EC_ALGORITHMS[algorithm.namedCurve ?? ''];
    case 'Ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

async function signingKey(
  privateKey: MintOptions['privateKey'],
  alg: string,
): Promise<CryptoKey | KeyObject | Uint8Array> {
  const { importJWK, importPKCS8 } = await import('jose');
  if (typeof privateKey === 'string') return importPKCS8(privateKey, alg);
  if ('kty' in privateKey) return importJWK(privateKey as JWK, alg);
  return privateKey as CryptoKey | KeyObject;
}

/** jose reads a number as an absolute timestamp; MintOptions numbers are relative to now. */
function relative(value: number | string): number | string {
  return typeof value === 'number' ? Math.floor(Date.now() / 1000) + value : value;
}

/** Sign a short-lived JWT for service-to-service calls (and tests) that chassis auth accepts. */
export async function mintToken(options: MintOptions): Promise<string> {
  // jose loads on first use: a service that never mints (or verifies) tokens does not pay for it
  const { SignJWT } = await import('jose');
  const { privateKey } = options;
  const alg = options.alg ?? inferAlgorithm(privateKey) ?? 'ES256';
  const jwk = typeof privateKey === 'object' && 'kty' in privateKey ? (privateKey as JWK) : undefined;
  const kid = options.kid ?? jwk?.kid;
  const jwt = new SignJWT({
    ...options.claims,
    ...(options.scopes ? { scope: options.scopes.join(' ') } : {}),
    ...(options.roles ? { roles: options.roles } : {}),
  })
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(relative(options.expiresIn ?? '5m'));
  if (options.notBefore !== undefined) jwt.setNotBefore(relative(options.notBefore));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(await signingKey(privateKey, alg));
}
