import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

const POOL_BYTES = 4096;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Trace and span ids cut from a pool of random hex (crypto.randomFillSync, refilled every 4 KiB).
 * The SDK's RandomIdGenerator writes Math.random words into a buffer and hex-encodes it on every
 * call; every request needs at least a span id, and this costs a string slice instead.
 */
export class PooledIdGenerator implements IdGenerator {
  readonly #pool = Buffer.allocUnsafe(POOL_BYTES);
  #hex = '';
  #at = 0;
  #nextTraceId: string | undefined;
  #lastTraceIdXor = 0;

  /**
   * The four 32-bit words of the last trace id this generator made, XORed: what the SDK's
   * TraceIdRatioBasedSampler compares with its bound, read from the random bytes instead of
   * parsing 32 hex characters again.
   */
  get lastTraceIdXor(): number {
    return this.#lastTraceIdXor;
  }

  generateTraceId(): string {
    const reused = this.#nextTraceId;
    if (reused !== undefined) {
      this.#nextTraceId = undefined;
      return reused;
    }
    const id = this.#take(32);
    if (id === ZERO_TRACE_ID) return this.generateTraceId();
    const at = (this.#at - 32) / 2;
    const pool = this.#pool;
    this.#lastTraceIdXor =
      (pool.readUInt32BE(at) ^
        pool.readUInt32BE(at + 4) ^
        pool.readUInt32BE(at + 8) ^
        pool.readUInt32BE(at + 12)) >>>
      0;
    return id;
  }

  /**
   * Make `traceId` the next trace id handed out: the SERVER-span fast path decides sampling on a
   * trace id before the SDK starts the span, and the SDK must start that span with the same id.
   */
  reuseTraceId(traceId: string | undefined): void {
    this.#nextTraceId = traceId;
  }

  generateSpanId(): string {
    const id = this.#take(16);
    return id === ZERO_SPAN_ID ? this.generateSpanId() : id;
  }

  #take(chars: number): string {
    if (this.#at + chars > this.#hex.length) {
      randomFillSync(this.#pool);
      this.#hex = this.#pool.toString('hex');
      this.#at = 0;
    }
    const id = this.#hex.slice(this.#at, this.#at + chars);
    this.#at += chars;
    return id;
  }
}
