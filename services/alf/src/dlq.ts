/**
 * The dead-letter topic: records ALF cannot deliver (malformed, oversize, refused by HEC) are
 * written there with headers saying why and where they came from. Writes are batched (a flood of
 * bad records must not mean one Kafka request each) and retried until they succeed: a record
 * counts as finished, and its offset may be committed, only once the dead-letter topic has it.
 */
import type { KafkaMessage, ProduceMessage } from '@fleet/chassis';
import { backoffDelay, sleep } from '@fleet/chassis';
import type { Logger } from './types.js';

export interface DeadLetterOptions {
  topic: string;
  groupId: string;
  produce: (topic: string, messages: ProduceMessage[]) => Promise<unknown>;
  log: Logger;
  /** Records per produce call (default 500). */
  maxBatch?: number;
  /** How long records wait to be batched, ms (default 20). */
  lingerMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Counts dead-lettered records by reason (after the write succeeded). */
  onWritten?: (reason: string, count: number) => void;
}

interface Entry {
  record: ProduceMessage;
  reason: string;
  done: () => void;
}

/** Human text for each reason (the `x-error` header). */
export const REASON_TEXT: Record<string, string> = {
  empty: 'record has no value',
  not_json: 'record value is not valid JSON',
  not_object: 'record value is JSON but not an object',
  missing_service: "record has no 'service' string",
  oversize: 'record is larger than alf.maxEventBytes',
  hec_invalid_event: 'HEC refused the event as invalid',
  hec_incorrect_index: 'HEC refused the event: incorrect index',
  hec_too_large: 'HEC refused the event as too large',
  hec_rejected: 'HEC refused the event',
  hec_retries_exhausted: 'HEC did not accept the event within hec.retry.maxAttempts attempts',
  internal_error: 'ALF failed on this record (see its logs)',
};

export class DeadLetters {
  readonly #o: DeadLetterOptions;
  #queue: Entry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing = 0;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: DeadLetterOptions) {
    this.#o = options;
  }

  /** Records queued or being written. */
  get pending(): number {
    return this.#queue.length + this.#flushing;
  }

  /** Dead-letter a consumed record; `done` runs once the dead-letter topic has it. */
  add(message: KafkaMessage, reason: string, detail: Record<string, string>, done: () => void): void {
    if (this.#closed) return;
    const headers: Record<string, string | Buffer> = {
      ...message.headers,
      ...detail,
      'x-alf-reason': reason,
      'x-error': REASON_TEXT[reason] ?? reason,
      'x-original-topic': message.topic,
      'x-original-partition': String(message.partition),
      'x-original-offset': String(message.offset),
      'x-original-timestamp': String(message.timestamp),
      'x-consumer-group': this.#o.groupId,
      'x-dead-lettered-at': new Date().toISOString(),
    };
    this.#queue.push({
      record: { key: message.key, value: message.value, headers, timestamp: message.timestamp },
      reason,
      done,
    });
    if (this.#queue.length >= (this.#o.maxBatch ?? 500)) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.#o.lingerMs ?? 20);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const entries = this.#queue;
    this.#queue = [];
    void this.#write(entries);
  }

  async #write(entries: Entry[]): Promise<void> {
    this.#flushing += entries.length;
    const base = this.#o.retryBaseMs ?? 100;
    const max = this.#o.retryMaxMs ?? 10_000;
    try {
      for (let attempt = 1; !this.#closed; attempt++) {
        try {
          await this.#o.produce(
            this.#o.topic,
            entries.map((e) => e.record),
          );
          const byReason = new Map<string, number>();
          for (const e of entries) byReason.set(e.reason, (byReason.get(e.reason) ?? 0) + 1);
          for (const [reason, n] of byReason) this.#o.onWritten?.(reason, n);
          for (const e of entries) e.done();
          return;
        } catch (err) {
          const delay = Math.max(base, backoffDelay(attempt, base, max));
          this.#o.log.error(
            { err, dlq_topic: this.#o.topic, records: entries.length, retry_in_ms: delay },
            'cannot write to the dead-letter topic; retrying',
          );
          await sleep(delay, this.#abort.signal).catch(() => {});
        }
      }
    } finally {
      this.#flushing -= entries.length;
    }
  }

  /** Stop retrying; records not written stay uncommitted in their source topic. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#queue = [];
    this.#abort.abort();
  }
}
