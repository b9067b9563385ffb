/** ApiVersions (key 18) v0–2. */
import { ApiKey } from '../api-keys.js';
import type { Writer } from '../codec.js';
import { ErrorCode } from '../error-codes.js';
import { type AnyApiHandler, defineHandler } from './types.js';

export interface ApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

interface Res {
  errorCode: number;
  apis: ApiVersionRange[];
}

function encodeBody(w: Writer, res: Res, version: number): void {
  w.int16(res.errorCode);
  w.array(res.apis, (w, a) => w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion));
  if (version >= 1) w.int32(0);
}

/**
 * Body sent for an ApiVersions request of an unsupported version: v0 layout with
 * UNSUPPORTED_VERSION and the supported ranges, so clients can retry with a version we know.
 */
export function encodeApiVersionsFallback(w: Writer, apis: ApiVersionRange[]): void {
  encodeBody(w, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apis }, 0);
}

export function createApiVersionsHandler(supported: () => ApiVersionRange[]): AnyApiHandler {
  return defineHandler<null, Res>({
    apiKey: ApiKey.ApiVersions,
    minVersion: 0,
    maxVersion: 2,
    decode: () => null,
    handle: () => ({ errorCode: ErrorCode.NONE, apis: supported() }),
    errorResponse: (_ctx, _req, errorCode) => ({
      errorCode,
      apis: errorCode === ErrorCode.UNSUPPORTED_VERSION ? supported() : [],
    }),
    encode: encodeBody,
  });
}
