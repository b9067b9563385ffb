import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { Writable } from 'node:stream';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { type MintOptions, mintToken } from '../auth/mint.js';

export { type MintOptions, mintToken } from '../auth/mint.js';

export type TestKeyAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

/** A signing key pair for tests and local demos, with the public half ready for `AUTH_PUBLIC_KEYS`. */
export interface TestKeys {
  alg: TestKeyAlgorithm;
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  /** JWKS JSON document: set as AUTH_PUBLIC_KEYS or serve as a JWKS URL. */
  jwks: string;
  /** The public key as a PEM (SPKI) block: also accepted as AUTH_PUBLIC_KEYS. */
  publicPem: string;
  /** The private key as a PEM (PKCS#8) block: accepted by `mintToken({ privateKey })`. */
  privatePem: string;
  /** Mint a token signed by this key (header carries this key's `alg` and `kid`). */
  mint(options: Omit<MintOptions, 'privateKey' | 'alg' | 'kid'>): Promise<string>;
}

/** Generate a key pair (ES256 by default; RS256 and EdDSA work too). */
export async function createTestKeys(alg: TestKeyAlgorithm = 'ES256'): Promise<TestKeys> {
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
    publicPem: await exportSPKI(publicKey),
    privatePem: await exportPKCS8(privateKey),
    mint: (options) => mintToken({ ...options, privateKey, alg, kid }),
  };
}

/** A JWKS endpoint on a real local socket, for tests of `AUTH_JWKS_URL` and key rotation. */
export interface JwksServer {
  /** URL of the key set (`http://127.0.0.1:<port>/.well-known/jwks.json`). */
  readonly url: string;
  /** How many times the key set has been fetched. */
  readonly fetches: number;
  /** Replace the served keys (rotation). */
  setKeys(...keys: Array<TestKeys | JWK>): void;
  close(): Promise<void>;
}

/** Serve the public halves of `keys` as a JWKS document on 127.0.0.1 and an ephemeral port. */
export async function startJwksServer(...keys: Array<TestKeys | JWK>): Promise<JwksServer> {
  let document: JSONWebKeySet = { keys: [] };
  let fetches = 0;
  const setKeys = (...next: Array<TestKeys | JWK>) => {
    document = { keys: next.map((k) => ('publicJwk' in k ? k.publicJwk : k)) };
  };
  setKeys(...keys);
  const server: Server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches++;
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    setKeys,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A TCP port that was free a moment ago (listen on 0, read the port, close). */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A log destination that keeps parsed JSON lines in memory, for asserting on logs. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  #partial = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    const text = this.#partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) {
      if (!part) continue;
      try {
        this.lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // Not JSON (something other than the chassis logger wrote here): keep it visible
        this.lines.push({ msg: part, unparsed: true });
      }
    }
    callback();
  }

  /** Lines whose `msg` equals or matches `msg`. */
  find(msg: string | RegExp): Array<Record<string, unknown>> {
    return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }

  /** Forget the lines captured so far. */
  clear(): void {
    this.lines.length = 0;
  }

  get text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

export {
  DEFAULT_TEST_DATABASE_URL,
  databaseGlobalSetup,
  dropSchema,
  dropSchemas,
  type PrepareTestDatabasesOptions,
  type ProvidingProject,
  prepareTestDatabases,
  probePostgres,
  redactDatabaseUrl,
  type TestDatabases,
  testDatabaseUrl,
} from './db.js';
export { kafkaTestEnv } from './kafka.js';
