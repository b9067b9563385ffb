import { Writable } from 'node:stream';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type MintOptions, mintToken } from '../auth/mint.js';

export { type MintOptions, mintToken } from '../auth/mint.js';

/** A signing key pair for tests and local demos, with the public half ready for `AUTH_PUBLIC_KEYS`. */
export interface TestKeys {
  alg: string;
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  /** JWKS JSON document: set as AUTH_PUBLIC_KEYS or serve as a JWKS URL. */
  jwks: string;
  /** Mint a token signed by this key. */
  mint(options: Omit<MintOptions, 'privateKey' | 'alg' | 'kid'>): Promise<string>;
}

/** Generate a key pair (ES256 by default; RS256 and EdDSA work too). */
export async function createTestKeys(alg: 'ES256' | 'RS256' | 'EdDSA' = 'ES256'): Promise<TestKeys> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  const pub = { ...publicJwk, kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    privateJwk,
    publicJwk: pub,
    jwks: JSON.stringify({ keys: [pub] }),
    mint: (options) => mintToken({ ...options, privateKey, alg, kid }),
  };
}

/** A log destination that keeps parsed JSON lines in memory, for asserting on logs. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  #partial = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    const text = this.#partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) if (part) this.lines.push(JSON.parse(part) as Record<string, unknown>);
    callback();
  }

  /** Lines whose `msg` equals or matches `msg`. */
  find(msg: string | RegExp): Array<Record<string, unknown>> {
    return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }

  get text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}
