import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, type JSONWebKeySet, type JWK } from 'jose';

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/**
 * Parse configured public keys: a JWKS JSON document, one JWK, or PEM (SPKI) blocks.
 * PEM keys get their RFC 7638 thumbprint as `kid`, so tokens may name them.
 */
export async function parsePublicKeys(input: string): Promise<JSONWebKeySet> {
  const text = input.trim();
  if (!text) return { keys: [] };
  if (text.startsWith('{')) {
    const parsed = JSON.parse(text) as JSONWebKeySet | JWK;
    const keys = 'keys' in parsed && Array.isArray(parsed.keys) ? parsed.keys : [parsed as JWK];
    for (const key of keys) {
      if ('d' in key || key.kty === 'oct') throw new Error('auth.publicKeys must contain public keys only');
    }
    return { keys };
  }
  const blocks = text.match(PEM_BLOCK);
  if (!blocks) throw new Error('auth.publicKeys is neither a JWKS JSON document nor PEM public key blocks');
  const keys: JWK[] = [];
  for (const pem of blocks) {
    const jwk = createPublicKey(pem).export({ format: 'jwk' }) as JWK;
    keys.push({ ...jwk, kid: await calculateJwkThumbprint(jwk) });
  }
  return { keys };
}
