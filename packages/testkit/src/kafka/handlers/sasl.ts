/** SaslHandshake (key 17) v0–1 and SaslAuthenticate (key 36) v0–1 with the PLAIN mechanism. */
import { timingSafeEqual } from 'node:crypto';
import { ApiKey } from '../api-keys.js';
import type { Cluster } from '../cluster.js';
import { ErrorCode } from '../error-codes.js';
import { defineHandler } from './types.js';

/** Check a SASL/PLAIN token (authzid NUL user NUL password); returns the user or null. */
export function verifyPlain(cluster: Cluster, token: Buffer): string | null {
  const users = cluster.options.sasl?.users;
  if (!users) return null;
  const parts = token.toString('utf8').split('\u0000');
  if (parts.length !== 3) return null;
  const [, user, password] = parts as [string, string, string];
  const expected = Object.hasOwn(users, user) ? users[user] : undefined;
  if (expected === undefined) return null;
  const a = Buffer.from(password);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b) ? user : null;
}

interface HandshakeRes {
  errorCode: number;
  mechanisms: string[];
}

export const saslHandshakeHandler = defineHandler<{ mechanism: string }, HandshakeRes>({
  apiKey: ApiKey.SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  decode: (r) => ({ mechanism: r.string() }),
  handle(ctx, req) {
    const sasl = ctx.cluster.options.sasl;
    if (!sasl || ctx.sasl.authenticated || ctx.sasl.mechanism !== null) {
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: sasl?.mechanisms ?? [] };
    }
    const mechanism = req.mechanism.toUpperCase();
    if (!sasl.mechanisms.includes(mechanism)) {
      ctx.cluster.log(`SASL mechanism ${req.mechanism} rejected (enabled: ${sasl.mechanisms.join(', ')})`);
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: sasl.mechanisms };
    }
    ctx.sasl.mechanism = mechanism;
    ctx.sasl.handshakeVersion = ctx.apiVersion;
    return { errorCode: ErrorCode.NONE, mechanisms: sasl.mechanisms };
  },
  errorResponse: (ctx, _req, errorCode) => ({
    errorCode,
    mechanisms: ctx.cluster.options.sasl?.mechanisms ?? [],
  }),
  encode(w, res) {
    w.int16(res.errorCode);
    w.array(res.mechanisms, (w, m) => w.string(m));
  },
});

interface AuthenticateRes {
  errorCode: number;
  message: string | null;
}

export const saslAuthenticateHandler = defineHandler<{ authBytes: Buffer }, AuthenticateRes>({
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 1,
  decode: (r) => ({ authBytes: r.bytes() }),
  handle(ctx, req) {
    if (!ctx.cluster.options.sasl || ctx.sasl.authenticated || ctx.sasl.mechanism !== 'PLAIN') {
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        message: 'SaslAuthenticate without a PLAIN handshake',
      };
    }
    const user = verifyPlain(ctx.cluster, req.authBytes);
    if (user === null) {
      ctx.cluster.log(`SASL/PLAIN authentication failed for client ${ctx.clientId} from ${ctx.clientHost}`);
      ctx.sasl.closeAfterResponse = true;
      return {
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        message: 'Authentication failed: Invalid username or password',
      };
    }
    ctx.sasl.authenticated = true;
    ctx.sasl.user = user;
    return { errorCode: ErrorCode.NONE, message: null };
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode, message: null }),
  encode(w, res, version) {
    w.int16(res.errorCode).nullableString(res.message).bytes(Buffer.alloc(0));
    if (version >= 1) w.int64(0); // session lifetime: unlimited
  },
});
