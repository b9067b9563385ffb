/**
 * Batches of HEC events. Events are serialised straight into one buffer per batch: the HEC
 * envelope's metadata is written as text, the record's original bytes are copied in as the
 * `event` value. A batch is sealed when it reaches its event or byte bound or its linger time;
 * an event is never split, and an event too large to share a batch travels alone.
 */
import type { KafkaMessage } from '@fleet/chassis';
import type { ServiceState } from './services.js';

/**
 * The completion of one handler call (a run of Kafka messages of one partition): resolved when
 * every event taken from it is delivered, dead-lettered or dropped. The consumer commits the
 * messages only then.
 */
export class Chunk {
  #pending = 1;
  #resolve!: () => void;
  #reject!: (err: Error) => void;
  readonly promise: Promise<void>;
  settled = false;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Abandoned chunks (shutdown) must not raise unhandled rejections
    this.promise.catch(() => {});
  }

  #sealed = false;

  /** Events taken and not finished. */
  get pending(): number {
    return this.#pending - (this.#sealed ? 0 : 1);
  }

  add(): void {
    this.#pending++;
  }

  done(): void {
    if (--this.#pending === 0 && !this.settled) {
      this.settled = true;
      this.#resolve();
    }
  }

  /** All events of the call are taken: resolves now if none is outstanding. */
  seal(): void {
    if (this.#sealed) return;
    this.#sealed = true;
    this.done();
  }

  /** Give up (shutdown deadline): the messages stay uncommitted. */
  abandon(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.#reject(err);
  }
}

/** An event on its way to HEC (or the dead-letter topic). */
export class PendingEvent {
  constructor(
    readonly chunk: Chunk,
    readonly message: KafkaMessage,
    /** Event time, epoch ms (end-to-end latency is measured from it). */
    readonly timeMs: number,
    /** Record bytes (the in-flight budget counts these). */
    readonly size: number,
    readonly service: ServiceState,
    readonly level: number,
  ) {}
}

let batchSeq = 0;

/** Serialised events, `starts[i]` the offset of event i in `buf` (it ends where the next starts). */
export class Batch {
  readonly id = ++batchSeq;
  readonly events: PendingEvent[] = [];
  readonly starts: number[] = [];
  length = 0;
  /** Sum of the events' record bytes. */
  recordBytes = 0;
  readonly createdAt = Date.now();
  /** gzip of buf[0, length) once compressed (kept for retries). */
  body: Buffer | null = null;
  /** Send attempts made (retries follow a backoff on it). */
  attempt = 0;
  /** Set when a send may have reached HEC without us seeing the answer (timeouts, resets). */
  ambiguous = false;

  constructor(public buf: Buffer) {}

  get size(): number {
    return this.events.length;
  }

  /** The serialised bytes of events [from, to). */
  slice(from: number, to: number): Buffer {
    const start = this.starts[from]!;
    const end = to >= this.events.length ? this.length : this.starts[to]!;
    return this.buf.subarray(start, end);
  }

  /** A new batch holding events [from, to) of this one (for splits and resends). */
  sub(from: number, to: number): Batch {
    const bytes = this.slice(from, to);
    const b = new Batch(Buffer.from(bytes));
    const base = this.starts[from]!;
    for (let i = from; i < to; i++) {
      b.events.push(this.events[i]!);
      b.starts.push(this.starts[i]! - base);
      b.recordBytes += this.events[i]!.size;
    }
    b.length = bytes.length;
    b.attempt = this.attempt;
    return b;
  }

  /** The serialised bytes (what is gzipped and posted). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export interface BatcherOptions {
  maxEvents: number;
  /** Serialised bytes per batch (uncompressed; keep below HEC's max_content_length). */
  maxBytes: number;
  lingerMs: number;
  /** Receives each sealed batch. */
  onSeal: (batch: Batch) => void;
}

/** Node's Buffer fast paths (no argument checking): stable since Node 0.x, not in the typings. */
export interface FastBuffer extends Buffer {
  utf8Write(text: string, offset: number, length?: number): number;
  utf8Slice(start: number, end: number): string;
}
const EVENT_CLOSE_0 = 0x7d; // }
const EVENT_CLOSE_1 = 0x0a; // \n

/** Accumulates events into the current batch; seals it on size, count or linger. */
export class Batcher {
  readonly #options: BatcherOptions;
  #current: Batch | null = null;
  #timer: NodeJS.Timeout | undefined;
  /** Spare buffers of maxBytes, reused once a batch is done with its raw bytes. */
  readonly #spare: Buffer[] = [];

  constructor(options: BatcherOptions) {
    this.#options = options;
  }

  get current(): Batch | null {
    return this.#current;
  }

  /**
   * Append one event: `meta` is the envelope up to the event value (`{"time":...,"event":`), then
   * the record's bytes are copied in as they are, and the envelope is closed.
   */
  append(event: PendingEvent, meta: string, value: Buffer): void {
    this.begin(meta.length * 3 + value.length + 2);
    this.text(meta);
    this.end(event, value);
  }

  // Piecewise writing (the pipeline's hot path): begin(capacity), text/raw pieces, end(event, value)
  #buf: FastBuffer = Buffer.alloc(0) as FastBuffer;
  #off = 0;

  /** Start an event needing at most `need` bytes (metadata and record): seals the batch if it would not fit. */
  begin(need: number): void {
    let batch = this.#current;
    if (batch !== null && batch.buf.length - batch.length < need) {
      this.seal();
      batch = null;
    }
    if (batch === null) batch = this.#open(need);
    this.#buf = batch.buf as FastBuffer;
    this.#off = batch.length;
    batch.starts.push(this.#off);
  }

  /** Metadata text (UTF-8). */
  text(text: string): void {
    this.#off += this.#buf.utf8Write(text, this.#off);
  }

  /** Pre-encoded bytes (constant or cached envelope pieces). */
  bytes(src: Uint8Array): void {
    const buf = this.#buf;
    let off = this.#off;
    const n = src.length;
    if (n <= 64) for (let i = 0; i < n; i++) buf[off++] = src[i]!;
    else {
      buf.set(src, off);
      off += n;
    }
    this.#off = off;
  }

  /** `.mmm`: the milliseconds of a time (0..999). */
  millis(ms: number): void {
    const buf = this.#buf;
    const off = this.#off;
    buf[off] = 0x2e;
    buf[off + 1] = 0x30 + ((ms / 100) | 0);
    buf[off + 2] = 0x30 + (((ms / 10) | 0) % 10);
    buf[off + 3] = 0x30 + (ms % 10);
    this.#off = off + 4;
  }

  /** Bytes [start, end) of `src` as they are (a JSON value taken from the record). */
  raw(src: Buffer, start: number, end: number): void {
    const buf = this.#buf;
    let off = this.#off;
    if (end - start <= 64) for (let i = start; i < end; i++) buf[off++] = src[i]!;
    else {
      buf.set(src.subarray(start, end), off);
      off += end - start;
    }
    this.#off = off;
  }

  /** The record itself as the event value, then close the envelope. */
  end(event: PendingEvent, value: Buffer): void {
    const batch = this.#current!;
    const buf = this.#buf;
    let off = this.#off;
    buf.set(value, off);
    off += value.length;
    buf[off++] = EVENT_CLOSE_0;
    buf[off++] = EVENT_CLOSE_1;
    batch.length = off;
    batch.events.push(event);
    batch.recordBytes += event.size;
    if (batch.events.length >= this.#options.maxEvents || off >= this.#options.maxBytes) this.seal();
  }

  #open(need: number): Batch {
    const size = Math.max(this.#options.maxBytes, need);
    const buf =
      size === this.#options.maxBytes && this.#spare.length > 0
        ? this.#spare.pop()!
        : Buffer.allocUnsafeSlow(size);
    const batch = new Batch(buf);
    this.#current = batch;
    this.#timer = setTimeout(() => this.seal(), this.#options.lingerMs);
    return batch;
  }

  /** Seal the current batch (if any) and hand it on. */
  seal(): void {
    const batch = this.#current;
    if (batch === null) return;
    this.#current = null;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A batch sealed by its linger time may be small: keep only what it uses (a slow HEC can
    // hold many batches), and reuse the full-size buffer at once
    if (batch.length < batch.buf.length >> 1) {
      const big = batch.buf;
      batch.buf = Buffer.allocUnsafeSlow(batch.length);
      big.copy(batch.buf, 0, 0, batch.length);
      this.recycle(big);
    }
    this.#options.onSeal(batch);
  }

  /** A batch's buffer is free again (its events are done or copied elsewhere). */
  recycle(buf: Buffer): void {
    if (buf.length === this.#options.maxBytes && this.#spare.length < 4) this.#spare.push(buf);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#current = null;
  }
}
