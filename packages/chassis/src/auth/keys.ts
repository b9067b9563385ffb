import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function describeKey(key: JWK, index: number): string {
  return `key ${index}${key.kid ? ` (kid ${key.kid})` : ''}`;
}

/** Reject anything but a well-formed asymmetric public JWK (private or symmetric keys never belong here). */
function checkJwk(key: unknown, index: number): JWK {
  if (typeof key !== 'object' || key === null || Array.isArray(key))
    throw new Error(`key ${index} is not a JWK object`);
  const jwk = key as JWK;
  if (jwk.kty === 'oct')
    throw new Error(`${describeKey(jwk, index)} is a symmetric key; only public keys are accepted`);
  if (PRIVATE_MEMBERS.some((member) => member in jwk))
    throw new Error(`must contain public keys only (${describeKey(jwk, index)} is private)`);
  if (!['RSA', 'EC', 'OKP'].includes(String(jwk.kty)))
    throw new Error(`${describeKey(jwk, index)} has unsupported kty ${String(jwk.kty)}`);
  try {
    createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`${describeKey(jwk, index)} is not a valid key: ${(err as Error).message}`);
  }
  return jwk;
}

/**
 * Parse configured public keys (`auth.publicKeys`; errors name the problem without the key name): a JWKS JSON document, one JWK, or PEM (SPKI) blocks.
 * Every key is checked here, so a bad key is a configuration error at startup rather than a
 * 401 on every request. PEM keys get their RFC 7638 thumbprint as `kid`, so tokens may name them.
 */
export async function parsePublicKeys(input: string): Promise<JSONWebKeySet> {
  const text = input.trim();
  if (!text) return { keys: [] };
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`not valid JSON: ${(err as Error).message}`);
    }
    const doc = parsed as Record<string, unknown>;
    let candidates: unknown[];
    if ('keys' in doc) {
      if (!Array.isArray(doc.keys)) throw new Error('"keys" must be an array of JWKs');
      candidates = doc.keys;
    } else {
      candidates = [doc];
    }
    if (candidates.length === 0) throw new Error('the key set is empty');
    return { keys: candidates.map(checkJwk) };
  }
  const blocks = text.match(PEM_BLOCK);
  if (!blocks) throw new Error('neither a JWKS JSON document nor PEM public key blocks');
  // jose loads on first use (services without auth never need it): see createTokenVerifier
  const { calculateJwkThumbprint } = await import('jose');
  const keys: JWK[] = [];
  for (const [index, pem] of blocks.entries()) {
    let jwk: JWK;
    try {
      jwk = createPublicKey(pem).export({ format: 'jwk' }) as JWK;
    } catch (err) {
      throw new Error(`PEM block ${index} is not a valid public key: ${(err as Error).message}`);
    }
    keys.push({ ...jwk, kid: await calculateJwkThumbprint(jwk) });
  }
  return { keys };
}
