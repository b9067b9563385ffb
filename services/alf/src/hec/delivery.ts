/**
 * Delivery of sealed batches to HEC: compression, sending slots, retries with backoff, splitting
 * around refused events, stalls on token and configuration problems, and indexer acknowledgement.
 * An event leaves this module only as delivered (HEC accepted it, and acked it when acks are on)
 * or dead-lettered (HEC refused it for itself); everything else is retried, without bound unless
 * `maxAttempts` says otherwise.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { backoffDelay } from '@fleet/chassis';
import type { Batch, PendingEvent } from '../batch.js';
import type { Logger } from '../types.js';
import type { HecClient, Slot } from './client.js';
import {
  classifyError,
  classifyResponse,
  type HecVerdict,
  INCORRECT_INDEX,
  type RetryReason,
  refusalReason,
  type StallReason,
} from './response.js';

const gzip = promisify(gzipCallback);
/**
 * Output chunk of the pool-thread gzip. zlib's default (16 KiB) takes about five pool round trips
 * (and event-loop callbacks) for a 1 MiB batch at HEC's usual 5-7 % ratio; 64 KiB takes one or
 * two: about 10 % less event-loop CPU per event in bench/alf (three paired runs).
 */
const GZIP_CHUNK_BYTES = 64 * 1024;

export interface DeliveryOptions {
  client: HecClient;
  log: Logger;
  gzip: boolean;
  gzipLevel: number;
  retry: { baseMs: number; maxMs: number; maxAttempts: number };
  ack: { enabled: boolean; pollMs: number; timeoutMs: number };
  /** HEC indexes the events before a refused one (Splunk does): they count as delivered. */
  partialAccepted: boolean;
  /** Called for events HEC accepted (and acked); `at` is the acceptance time (ms). */
  delivered(events: readonly PendingEvent[], from: number, to: number, at: number): void;
  /** Called for an event HEC refused for itself. */
  deadLetter(event: PendingEvent, reason: string, detail: Record<string, string>): void;
  /** A batch's raw buffer is no longer needed. */
  recycle?(buf: Buffer): void;
  observe?: DeliveryObserver;
}

/** Metric hooks (all optional). */
export interface DeliveryObserver {
  request?(endpoint: string, code: string, seconds: number): void;
  batch?(events: number, bytes: number, compressedBytes: number): void;
  retried?(reason: RetryReason | 'partial' | 'split', events: number): void;
  possibleDuplicates?(events: number): void;
  incorrectIndex?(events: number): void;
  stalled?(stall: Stall | null): void;
  endpoint?(label: string, up: boolean): void;
}

export interface Stall {
  reason: StallReason;
  status: number;
  code: number;
  text: string;
  since: string;
}

interface AckWait {
  batch: Batch;
  sentAt: number;
}

export class Delivery {
  readonly #o: DeliveryOptions;
  readonly #client: HecClient;
  /** Compressed batches ready to send, oldest first. */
  readonly #ready: Batch[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #aborts = new Set<AbortController>();
  /** Batches compressing, waiting for a retry, sending, or waiting for an ack. */
  #held = 0;
  #sending = 0;
  #stall: Stall | null = null;
  #stallAttempt = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #probeDue = true;
  #pumpTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** ackIds awaited per slot (channel). */
  readonly #acks = new Map<Slot, Map<number, AckWait>>();
  #ackTimer: NodeJS.Timeout | undefined;
  #ackPolling = false;

  constructor(options: DeliveryOptions) {
    this.#o = options;
    this.#client = options.client;
    if (options.ack.enabled) {
      this.#ackTimer = setInterval(() => void this.#pollAcks(), options.ack.pollMs);
      this.#ackTimer.unref();
    }
  }

  /** Why sending is stopped (token or configuration problem), or null. */
  get stall(): Stall | null {
    return this.#stall;
  }

  /** Batches not finished (compressing, queued, sending, retrying, awaiting acks). */
  get pendingBatches(): number {
    return this.#held;
  }

  get sending(): number {
    return this.#sending;
  }

  get queued(): number {
    return this.#ready.length;
  }

  get awaitingAcks(): number {
    let n = 0;
    for (const m of this.#acks.values()) n += m.size;
    return n;
  }

  /** Hand over a sealed batch. */
  submit(batch: Batch): void {
    if (this.#closed) return;
    this.#held++;
    this.#o.observe?.batch?.(batch.size, batch.length, -1);
    void this.#compressAndQueue(batch);
  }

  /** Try now (after a config reload: a stalled sender probes at once). */
  kick(): void {
    if (this.#stall) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      this.#probeDue = true;
    }
    this.#pump();
  }

  async #compressAndQueue(batch: Batch): Promise<void> {
    try {
      batch.body = this.#o.gzip
        ? await gzip(batch.bytes(), { level: this.#o.gzipLevel, chunkSize: GZIP_CHUNK_BYTES })
        : batch.bytes();
    } catch (err) {
      // Cannot happen with valid input; keep the batch uncompressed rather than lose it
      this.#o.log.error({ err }, 'gzip failed');
      batch.body = batch.bytes();
    }
    if (this.#closed) return;
    this.#ready.push(batch);
    this.#pump();
  }

  #requeue(batch: Batch, delayMs: number): void {
    if (this.#closed) return;
    if (delayMs <= 0) {
      this.#ready.unshift(batch);
      this.#pump();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      this.#ready.unshift(batch);
      this.#pump();
    }, delayMs);
    this.#timers.add(timer);
  }

  #pump(): void {
    if (this.#closed) return;
    while (this.#ready.length > 0) {
      if (this.#stall && !this.#probeDue) return;
      const now = Date.now();
      const slot = this.#client.acquire(now);
      if (slot === null) {
        this.#schedulePump();
        return;
      }
      if (this.#stall) this.#probeDue = false;
      const batch = this.#ready.shift()!;
      void this.#send(batch, slot);
    }
  }

  /** Every endpoint ejected or busy: pump again when an ejected one is due (busy slots pump on release). */
  #schedulePump(): void {
    const at = this.#client.nextProbeAt();
    if (!Number.isFinite(at) || this.#pumpTimer) return;
    this.#pumpTimer = setTimeout(
      () => {
        this.#pumpTimer = undefined;
        this.#pump();
      },
      Math.max(1, at - Date.now()),
    );
  }

  async #send(batch: Batch, slot: Slot): Promise<void> {
    this.#sending++;
    batch.attempt++;
    const abort = new AbortController();
    this.#aborts.add(abort);
    const started = performance.now();
    let verdict: HecVerdict;
    let code: string;
    try {
      const answer = await this.#client.send(slot, batch.body!, abort.signal);
      verdict = classifyResponse(answer.status, answer.body, answer.retryAfterMs);
      code = typeof answer.body.code === 'number' ? String(answer.body.code) : `http_${answer.status}`;
    } catch (err) {
      verdict = classifyError(err);
      code = verdict.kind === 'retry' ? verdict.reason : 'error';
    } finally {
      this.#aborts.delete(abort);
      this.#sending--;
      this.#client.release(slot);
    }
    this.#o.observe?.request?.(slot.endpoint.label, code, (performance.now() - started) / 1000);
    if (this.#closed) return;
    this.#handle(batch, slot, verdict);
    this.#pump();
  }

  #handle(batch: Batch, slot: Slot, verdict: HecVerdict): void {
    const endpoint = slot.endpoint;
    const now = Date.now();
    if (verdict.kind === 'retry') {
      if (this.#client.failed(endpoint, now, verdict.detail)) {
        this.#o.log.warn(
          {
            endpoint: endpoint.label,
            until: new Date(endpoint.ejectedUntil).toISOString(),
            error: verdict.detail,
          },
          'HEC endpoint ejected',
        );
        this.#o.observe?.endpoint?.(endpoint.label, false);
      }
      this.#retry(batch, verdict.reason, verdict.ambiguous, verdict.retryAfterMs, verdict.detail);
      return;
    }
    const wasEjected = endpoint.ejected;
    this.#client.succeeded(endpoint);
    if (wasEjected) {
      this.#o.log.info({ endpoint: endpoint.label }, 'HEC endpoint back');
      this.#o.observe?.endpoint?.(endpoint.label, true);
    }
    if (verdict.kind === 'stall') {
      this.#stallOn(batch, verdict);
      return;
    }
    this.#stallOff();
    switch (verdict.kind) {
      case 'success':
        if (this.#o.ack.enabled && verdict.ackId !== undefined) this.#awaitAck(batch, slot, verdict.ackId);
        else this.#done(batch, 0, batch.size);
        return;
      case 'partial':
        this.#partial(batch, verdict.at, verdict.code, verdict.text);
        return;
      case 'split':
        this.#split(batch, verdict.code, verdict.status, verdict.text);
        return;
    }
  }

  #retry(
    batch: Batch,
    reason: RetryReason,
    ambiguous: boolean,
    retryAfterMs: number | undefined,
    detail: string,
  ): void {
    if (ambiguous) batch.ambiguous = true;
    const { baseMs, maxMs, maxAttempts } = this.#o.retry;
    if (maxAttempts > 0 && batch.attempt >= maxAttempts) {
      this.#o.log.error(
        { events: batch.size, attempts: batch.attempt, error: detail },
        'HEC retries exhausted: dead-lettering the batch',
      );
      for (const event of batch.events)
        this.#o.deadLetter(event, 'hec_retries_exhausted', { 'x-alf-hec-error': detail.slice(0, 512) });
      this.#finish(batch);
      return;
    }
    this.#o.observe?.retried?.(reason, batch.size);
    if (ambiguous) this.#o.observe?.possibleDuplicates?.(batch.size);
    // Retry-After is honoured up to the largest backoff
    const delay = Math.min(
      maxMs,
      retryAfterMs ?? Math.max(baseMs, backoffDelay(batch.attempt, baseMs, maxMs)),
    );
    this.#o.log.debug(
      { events: batch.size, attempt: batch.attempt, reason, retry_in_ms: delay, error: detail },
      'HEC batch retry',
    );
    this.#requeue(batch, delay);
  }

  #stallOn(batch: Batch, verdict: Extract<HecVerdict, { kind: 'stall' }>): void {
    const first = this.#stall === null || this.#stall.text !== verdict.text;
    if (first) {
      this.#stall = {
        reason: verdict.reason,
        status: verdict.status,
        code: verdict.code,
        text: verdict.text,
        since: this.#stall?.since ?? new Date().toISOString(),
      };
      this.#stallAttempt = 0;
      this.#o.log.error(
        { reason: verdict.reason, status: verdict.status, code: verdict.code, text: verdict.text },
        'HEC refuses ALF (token or configuration problem): sending stopped until a retry or a config reload succeeds',
      );
      this.#o.observe?.stalled?.(this.#stall);
    }
    // The batch waits at the head of the queue; one probe at a time, backing off to retry.maxMs
    this.#stallAttempt++;
    this.#probeDue = false;
    this.#ready.unshift(batch);
    const { baseMs, maxMs } = this.#o.retry;
    const delay = Math.max(baseMs, Math.min(maxMs, baseMs * 2 ** Math.min(this.#stallAttempt, 20)));
    clearTimeout(this.#stallTimer);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      this.#probeDue = true;
      this.#pump();
    }, delay);
  }

  #stallOff(): void {
    if (this.#stall === null) return;
    this.#o.log.info({ was: this.#stall }, 'HEC accepts ALF again: sending resumed');
    this.#stall = null;
    this.#stallAttempt = 0;
    this.#probeDue = true;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#o.observe?.stalled?.(null);
  }

  #partial(batch: Batch, at: number, code: number, text: string): void {
    if (at < 0 || at >= batch.size) {
      // An event number outside the batch: do not trust it
      this.#split(batch, code, 400, text);
      return;
    }
    if (at > 0) {
      if (this.#o.partialAccepted) this.#o.delivered(batch.events, 0, at, Date.now());
      else this.#resubmit(batch.sub(0, at), 'partial');
    }
    this.#refuse(batch.events[at]!, code, 400, text);
    if (at + 1 < batch.size) this.#resubmit(batch.sub(at + 1, batch.size), 'partial');
    this.#finish(batch);
  }

  #split(batch: Batch, code: number, status: number, text: string): void {
    if (batch.size === 1) {
      this.#refuse(batch.events[0]!, code, status, text);
    } else {
      const half = batch.size >> 1;
      this.#resubmit(batch.sub(0, half), 'split');
      this.#resubmit(batch.sub(half, batch.size), 'split');
    }
    this.#finish(batch);
  }

  #refuse(event: PendingEvent, code: number, status: number, text: string): void {
    const reason = refusalReason(code, status);
    if (code === INCORRECT_INDEX) this.#o.observe?.incorrectIndex?.(1);
    this.#o.log.warn(
      {
        service: event.service.name,
        topic: event.message.topic,
        partition: event.message.partition,
        offset: event.message.offset,
        code,
        status,
        text,
      },
      'HEC refused an event: dead-lettering it',
    );
    this.#o.deadLetter(event, reason, {
      'x-alf-hec-code': String(code),
      'x-alf-hec-status': String(status),
      'x-alf-hec-text': text.slice(0, 512),
    });
  }

  #resubmit(batch: Batch, reason: 'partial' | 'split'): void {
    this.#o.observe?.retried?.(reason, batch.size);
    batch.attempt = 0;
    this.submit(batch);
  }

  #done(batch: Batch, from: number, to: number): void {
    this.#o.delivered(batch.events, from, to, Date.now());
    this.#finish(batch);
  }

  /** The batch is fully accounted for (its events delivered, dead-lettered or moved to new batches). */
  #finish(batch: Batch): void {
    this.#held--;
    this.#o.recycle?.(batch.buf);
    batch.body = null;
  }

  // ---- indexer acknowledgement ------------------------------------------------------------------

  #awaitAck(batch: Batch, slot: Slot, ackId: number): void {
    let waits = this.#acks.get(slot);
    if (!waits) {
      waits = new Map();
      this.#acks.set(slot, waits);
    }
    waits.set(ackId, { batch, sentAt: Date.now() });
  }

  async #pollAcks(): Promise<void> {
    if (this.#ackPolling || this.#closed) return;
    this.#ackPolling = true;
    try {
      const now = Date.now();
      await Promise.all(
        [...this.#acks].map(async ([slot, waits]) => {
          // Timed out: resend (the first copy may still get indexed: a possible duplicate)
          for (const [id, wait] of waits) {
            if (now - wait.sentAt < this.#o.ack.timeoutMs) continue;
            waits.delete(id);
            this.#o.log.warn(
              { endpoint: slot.endpoint.label, channel: slot.channel, ack_id: id, events: wait.batch.size },
              'HEC ack timed out: resending the batch',
            );
            wait.batch.ambiguous = true;
            this.#o.observe?.retried?.('ack_timeout', wait.batch.size);
            this.#o.observe?.possibleDuplicates?.(wait.batch.size);
            this.#ready.push(wait.batch);
          }
          if (waits.size === 0) return;
          const ids = [...waits.keys()];
          const abort = new AbortController();
          this.#aborts.add(abort);
          try {
            const { status, acks } = await this.#client.queryAcks(slot, ids, abort.signal);
            if (status !== 200) {
              this.#o.log.warn({ endpoint: slot.endpoint.label, status }, 'HEC ack query refused');
              return;
            }
            for (const [id, acked] of acks) {
              if (!acked) continue;
              const wait = waits.get(id);
              if (!wait) continue;
              waits.delete(id);
              this.#done(wait.batch, 0, wait.batch.size);
            }
          } catch (err) {
            this.#o.log.debug(
              { err, endpoint: slot.endpoint.label },
              'HEC ack query failed; will poll again',
            );
          } finally {
            this.#aborts.delete(abort);
          }
        }),
      );
    } finally {
      this.#ackPolling = false;
    }
    this.#pump();
  }

  /** Stop: abort requests in flight, drop timers. Unfinished events stay uncommitted in Kafka. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    clearTimeout(this.#stallTimer);
    clearTimeout(this.#pumpTimer);
    clearInterval(this.#ackTimer);
    for (const a of this.#aborts) a.abort();
    this.#ready.length = 0;
    this.#acks.clear();
    await this.#client.close();
  }
}
