import type { errors as JoseErrors, JWTPayload, JWTVerifyGetKey } from 'jose';
import { parsePublicKeys } from './keys.js';

export interface VerifierOptions {
  jwksUrl?: string;
  publicKeys?: string;
  issuer?: string;
  audience?: string;
  /** Allowed JWS algorithms (default RS256, ES256, EdDSA); asymmetric algorithms only. */
  algorithms?: string[];
  clockToleranceSec?: number;
  /**
   * Minimum time between two JWKS fetches triggered by an unknown `kid` (default 30 s): a flood of
   * forged kids cannot turn into a flood of requests to the identity provider.
   */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (default 10 min). */
  jwksCacheMaxAgeMs?: number;
}

/** What a verified token says about its bearer. */
export interface Principal {
  subject: string;
  scopes: ReadonlySet<string>;
  roles: ReadonlySet<string>;
  claims: JWTPayload;
}

/** A token that failed verification; `reason` is safe to return to the caller. */
export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}

export interface TokenVerifier {
  readonly configured: boolean;
  verify(token: string): Promise<Principal>;
}

export const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

/**
 * Asymmetric JWS algorithms only. `none` and the HMAC family are refused outright: with an HMAC
 * algorithm allowed, a public key (which anyone may know) could be used as the shared secret.
 */
const ASYMMETRIC_ALGORITHMS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

function toSet(value: unknown): ReadonlySet<string> {
  if (typeof value === 'string') return new Set(value.split(' ').filter(Boolean));
  if (Array.isArray(value)) return new Set(value.filter((v): v is string => typeof v === 'string'));
  return new Set();
}

function describe(err: unknown, errors: typeof JoseErrors): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim check failed: ${err.claim} ${err.reason}`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token (unknown kid?)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token';
  if (err instanceof errors.JOSENotSupported) return 'unsupported token algorithm';
  if (err instanceof errors.JWKSTimeout) return 'key set fetch timed out';
  if (err instanceof errors.JWKSInvalid) return 'key set is invalid';
  return 'invalid token';
}

function checkAlgorithms(algorithms: string[]): string[] {
  const list = algorithms.map((a) => a.trim()).filter(Boolean);
  if (list.length === 0) throw new Error('auth.algorithms must name at least one algorithm');
  const refused = list.filter((a) => !ASYMMETRIC_ALGORITHMS.has(a));
  if (refused.length > 0)
    throw new Error(
      `auth.algorithms: ${refused.join(', ')} not allowed (asymmetric algorithms only: ${[...ASYMMETRIC_ALGORITHMS].join(', ')})`,
    );
  return list;
}

function checkJwksUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`auth.jwksUrl: not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`auth.jwksUrl: must be an http(s) URL, got ${url.protocol}`);
  return url;
}

/** Without keys every token is refused: protected routes answer 401. */
const UNCONFIGURED: TokenVerifier = {
  configured: false,
  verify: () => Promise.reject(new InvalidTokenError('authentication is not configured on this service')),
};

/**
 * Verifies bearer JWTs against configured public keys and/or a JWKS URL. The remote set is
 * cached by jose and re-fetched when a token names an unknown kid (rate-limited by a cooldown).
 * Throws (plain Error, message naming the config key) when the options are unusable.
 */
export async function createTokenVerifier(options: VerifierOptions): Promise<TokenVerifier> {
  const algorithms = checkAlgorithms(options.algorithms ?? DEFAULT_ALGORITHMS);
  if (!options.publicKeys && !options.jwksUrl) return UNCONFIGURED;
  // jose (about 180 modules) loads only when there are keys to check tokens against
  const { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify } = await import('jose');
  const local = options.publicKeys ? createLocalJWKSet(await parsePublicKeys(options.publicKeys)) : undefined;
  const remote = options.jwksUrl
    ? createRemoteJWKSet(checkJwksUrl(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        ...(options.jwksCacheMaxAgeMs !== undefined ? { cacheMaxAge: options.jwksCacheMaxAgeMs } : {}),
      })
    : undefined;
  const configured = Boolean(local || remote);

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (local) {
      try {
        return await local(header, token);
      } catch (err) {
        if (!remote || !(err instanceof errors.JWKSNoMatchingKey)) throw err;
      }
    }
    if (remote) return remote(header, token);
    throw new errors.JWKSNoMatchingKey();
  };

  const verifyOptions = {
    algorithms,
    clockTolerance: options.clockToleranceSec ?? 5,
    // A bearer token without an expiry would be valid forever
    requiredClaims: ['exp'],
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };

  return {
    configured,
    async verify(token) {
      if (!configured) throw new InvalidTokenError('authentication is not configured on this service');
      try {
        const { payload } = await jwtVerify(token, getKey, verifyOptions);
        return {
          subject: payload.sub ?? '',
          scopes: toSet(payload.scope ?? payload.scp),
          roles: toSet(payload.roles),
          claims: payload,
        };
      } catch (err) {
        throw new InvalidTokenError(describe(err, errors));
      }
    },
  };
}
