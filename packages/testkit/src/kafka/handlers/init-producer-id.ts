/** InitProducerId (key 22) v0–1: producer ids for idempotent producers. */
import { ApiKey } from '../api-keys.js';
import { ErrorCode } from '../error-codes.js';
import { defineHandler } from './types.js';

interface Res {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export const initProducerIdHandler = defineHandler<{ transactionalId: string | null }, Res>({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    const transactionalId = r.nullableString();
    r.int32(); // transaction timeout
    return { transactionalId };
  },
  handle(ctx, req) {
    const { producerId, epoch } = ctx.cluster.initProducerId(req.transactionalId);
    return { errorCode: ErrorCode.NONE, producerId, producerEpoch: epoch };
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode, producerId: -1, producerEpoch: -1 }),
  encode(w, res) {
    w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
  },
});
