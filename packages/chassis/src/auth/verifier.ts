import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { parsePublicKeys } from './keys.js';

export interface VerifierOptions {
  jwksUrl?: string;
  publicKeys?: string;
  issuer?: string;
  audience?: string;
  algorithms?: string[];
  clockToleranceSec?: number;
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

function toSet(value: unknown): ReadonlySet<string> {
  if (typeof value === 'string') return new Set(value.split(' ').filter(Boolean));
  if (Array.isArray(value)) return new Set(value.filter((v): v is string => typeof v === 'string'));
  return new Set();
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim check failed: ${err.claim} ${err.reason}`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token (unknown kid?)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token';
  if (err instanceof errors.JOSENotSupported) return 'unsupported token algorithm';
  if (err instanceof errors.JWKSTimeout) return 'key set fetch timed out';
  return 'invalid token';
}

/**
 * Verifies bearer JWTs against configured public keys and/or a JWKS URL. The remote set is
 * cached by jose and re-fetched when a token names an unknown kid (rate-limited by a cooldown).
 */
export async function createTokenVerifier(options: VerifierOptions): Promise<TokenVerifier> {
  const local = options.publicKeys ? createLocalJWKSet(await parsePublicKeys(options.publicKeys)) : undefined;
  const remote = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000 })
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
    algorithms: options.algorithms ?? ['RS256', 'ES256', 'EdDSA'],
    clockTolerance: options.clockToleranceSec ?? 5,
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
        throw new InvalidTokenError(describe(err));
      }
    },
  };
}
