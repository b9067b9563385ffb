import { Socket } from 'node:net';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { Writer } from '../src/kafka/codec.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** A kafkajs client with quiet logs and short retry back-off, so failure paths stay fast. */
export function kafkaClient(brokers: string[], extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'testkit',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 10 },
    ...extra,
  });
}

/** Consumer settings that keep group protocol round trips short. */
export const fastConsumer = {
  sessionTimeout: 3000,
  rebalanceTimeout: 3000,
  heartbeatInterval: 100,
  maxWaitTimeInMs: 100,
  retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 10 },
} as const;

/** Poll until `fn` returns a truthy value. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface RawResponse {
  correlationId: number;
  body: Buffer;
}

/** Minimal Kafka client over a raw socket, for malformed-input and protocol-level tests. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private correlation = 0;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(address: string): Promise<RawClient> {
    const [host, port] = address.split(':');
    return new Promise((resolve, reject) => {
      const s = new Socket();
      s.once('error', reject);
      s.connect(Number(port), host!, () => resolve(new RawClient(s)));
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Send a request with header v1; returns its correlation id. */
  request(apiKey: number, apiVersion: number, body: (w: Writer) => void = () => {}): number {
    const correlationId = ++this.correlation;
    const w = new Writer();
    w.int16(apiKey).int16(apiVersion).int32(correlationId).string('raw-client');
    body(w);
    const payload = w.toBuffer();
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.socket.write(Buffer.concat([size, payload]));
    return correlationId;
  }

  writeRaw(data: Buffer): void {
    this.socket.write(data);
  }

  /** Next response, or null if the connection closed first. */
  async response(timeoutMs = 3000): Promise<RawResponse | null> {
    const frame = await this.frame(timeoutMs);
    return frame && { correlationId: frame.readInt32BE(0), body: frame.subarray(4) };
  }

  /** Next size-prefixed frame (without its size), or null if the connection closed first. */
  async frame(timeoutMs = 3000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 4) {
        const size = this.buf.readInt32BE(0);
        if (this.buf.length >= 4 + size) {
          const frame = this.buf.subarray(4, 4 + size);
          this.buf = this.buf.subarray(4 + size);
          return frame;
        }
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a response');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolve true once the broker has closed the connection. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
