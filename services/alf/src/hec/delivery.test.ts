import { createServer } from 'node:net';
import { createLogger, type KafkaMessage } from '@fleet/chassis';
import { type HecReceiver, type HecReceiverOptions, startHecReceiver } from '@fleet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Batch, Batcher, Chunk, PendingEvent } from '../batch.js';
import { ServiceState } from '../services.js';
import { HecClient, type HecClientOptions } from './client.js';
import { Delivery, type DeliveryOptions, type Stall } from './delivery.js';

const log = createLogger({ service: 'alf-test', version: '0', level: 'silent' });
const TOKEN = '11111111-2222-3333-4444-555555555555';
const state = new ServiceState('svc', 'svc');

interface Harness {
  hec: HecReceiver;
  delivery: Delivery;
  client: HecClient;
  delivered: string[];
  dead: Array<{ id: string; reason: string; detail: Record<string, string> }>;
  retried: Record<string, number>;
  duplicates: number;
  incorrectIndex: number;
  stalls: Array<Stall | null>;
  send(ids: string[], extra?: (id: string) => Record<string, unknown>): Batch;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function harness(
  receiver: HecReceiverOptions = {},
  options: Partial<DeliveryOptions> = {},
  client: Partial<HecClientOptions> = {},
): Promise<Harness> {
  const hec = await startHecReceiver({
    token: TOKEN,
    eventId: (e) => (e.event as { id?: string }).id,
    ...receiver,
  });
  const hecClient = new HecClient({
    urls: [hec.url],
    eventPath: '/services/collector/event',
    token: () => TOKEN,
    connections: 2,
    timeoutMs: 2000,
    connectTimeoutMs: 1000,
    gzip: true,
    ejectAfter: 2,
    ejectBaseMs: 100,
    ejectMaxMs: 1000,
    ...client,
  });
  const h: Harness = {
    hec,
    client: hecClient,
    delivered: [],
    dead: [],
    retried: {},
    duplicates: 0,
    incorrectIndex: 0,
    stalls: [],
    delivery: undefined as unknown as Delivery,
    send(ids, extra) {
      let sealed: Batch | undefined;
      const batcher = new Batcher({
        maxEvents: ids.length,
        maxBytes: 1 << 20,
        lingerMs: 60_000,
        onSeal: (b) => (sealed = b),
      });
      const chunk = new Chunk();
      for (const [i, id] of ids.entries()) {
        const value = Buffer.from(JSON.stringify({ id, service: 'svc' }));
        const m: KafkaMessage = {
          topic: 't',
          partition: 0,
          offset: i,
          key: null,
          value,
          headers: { id },
          timestamp: 0,
        };
        chunk.add();
        const fields = extra?.(id) ?? {};
        const middle = `,"source":"svc"${Object.entries(fields)
          .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
          .join('')}`;
        batcher.append(
          new PendingEvent(chunk, m, Date.now(), value.length, state, 2),
          `{"time":${Date.now() / 1000}${middle},"event":`,
          value,
        );
      }
      batcher.seal();
      h.delivery.submit(sealed!);
      return sealed!;
    },
  };
  h.delivery = new Delivery({
    client: hecClient,
    log,
    gzip: true,
    gzipLevel: 1,
    retry: { baseMs: 20, maxMs: 200, maxAttempts: 0 },
    ack: { enabled: false, pollMs: 50, timeoutMs: 10_000 },
    partialAccepted: true,
    delivered: (events, from, to) => {
      for (let i = from; i < to; i++) h.delivered.push(events[i]!.message.headers.id!);
    },
    deadLetter: (event, reason, detail) => h.dead.push({ id: event.message.headers.id!, reason, detail }),
    observe: {
      retried: (reason, n) => {
        h.retried[reason] = (h.retried[reason] ?? 0) + n;
      },
      possibleDuplicates: (n) => {
        h.duplicates += n;
      },
      incorrectIndex: (n) => {
        h.incorrectIndex += n;
      },
      stalled: (s) => h.stalls.push(s),
    },
    ...options,
  });
  open.push(async () => {
    await h.delivery.close();
    await hec.close();
  });
  return h;
}

const idOf = (e: unknown) => (e as { event?: { id?: string } }).event?.id;
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function until(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Delivery', () => {
  it('delivers batches exactly once in normal operation', async () => {
    const h = await harness();
    for (let b = 0; b < 5; b++) h.send(ids(`b${b}-`, 100));
    await until('500 delivered', () => h.delivered.length === 500);
    expect(h.hec.idCounts.size).toBe(500);
    expect(h.hec.duplicateIds()).toEqual([]);
    expect(h.delivery.pendingBatches).toBe(0);
  });

  it('retries busy and server errors with backoff', async () => {
    const h = await harness();
    h.hec.faults.busy({ times: 3 });
    h.hec.faults.respond({ code: 8 }, { times: 1 });
    h.send(ids('a', 50));
    await until('delivered', () => h.delivered.length === 50);
    expect(h.retried.busy).toBe(150);
    expect(h.retried.server_error).toBe(50);
    expect(h.hec.duplicateIds()).toEqual([]);
  });

  it('honours 429 as a retry', async () => {
    const h = await harness();
    h.hec.faults.respond({ status: 429, body: { text: 'slow down', code: 9999 } }, { times: 2 });
    h.send(ids('a', 10));
    await until('delivered', () => h.delivered.length === 10);
    expect(h.retried.throttled).toBe(20);
  });

  it('splits around an invalid event: the ones before count, the bad one is dead-lettered, the rest resent', async () => {
    const h = await harness();
    h.hec.faults.invalidEvent({ match: (e) => idOf(e) === 'x5', code: 12 });
    h.send(ids('x', 10));
    await until('all accounted', () => h.delivered.length + h.dead.length === 10);
    expect(h.dead).toEqual([
      { id: 'x5', reason: 'hec_invalid_event', detail: expect.objectContaining({ 'x-alf-hec-code': '12' }) },
    ]);
    expect([...h.hec.idCounts.keys()].sort()).toEqual(
      ids('x', 10)
        .filter((i) => i !== 'x5')
        .sort(),
    );
    expect(h.hec.duplicateIds()).toEqual([]);
    expect(h.retried.partial).toBe(4);
  });

  it('resends the events before the bad one when HEC rejects whole batches', async () => {
    const h = await harness({ partialBatch: 'reject-all' }, { partialAccepted: false });
    h.hec.faults.invalidEvent({ match: (e) => idOf(e) === 'x3' });
    h.send(ids('x', 8));
    await until('all accounted', () => h.delivered.length + h.dead.length === 8);
    expect(h.dead.map((d) => d.id)).toEqual(['x3']);
    expect(h.hec.idCounts.size).toBe(7);
    expect(h.hec.duplicateIds()).toEqual([]);
  });

  it('dead-letters an event naming an index the token may not use, and counts it for alerting', async () => {
    const h = await harness({ indexes: ['main', 'app'] });
    h.send(ids('i', 6), (id) => (id === 'i2' || id === 'i4' ? { index: 'forbidden' } : {}));
    await until('all accounted', () => h.delivered.length + h.dead.length === 6);
    expect(h.dead.map((d) => [d.id, d.reason])).toEqual([
      ['i2', 'hec_incorrect_index'],
      ['i4', 'hec_incorrect_index'],
    ]);
    expect(h.incorrectIndex).toBe(2);
    expect(h.hec.idCounts.size).toBe(4);
  });

  it('splits a batch refused without an event number, down to the single bad event', async () => {
    const h = await harness({ maxContentLength: 600 });
    // 413 for bodies above 600 gzip bytes: the batch halves until the parts fit; one huge event cannot
    h.send(ids('s', 40), (id) =>
      id === 's7' ? { pad: Array.from({ length: 400 }, (_, i) => `${i * 7919}`).join('') } : {},
    );
    await until('all accounted', () => h.delivered.length + h.dead.length === 40);
    expect(h.dead.map((d) => [d.id, d.reason])).toEqual([['s7', 'hec_too_large']]);
    expect(h.hec.idCounts.size).toBe(39);
    expect(h.retried.split).toBeGreaterThan(0);
  });

  it('stalls on a disabled token, then resumes when a retry succeeds', async () => {
    const h = await harness();
    const fault = h.hec.faults.tokenDisabled();
    h.send(ids('t', 20));
    await until('stalled', () => h.delivery.stall !== null);
    expect(h.delivery.stall).toMatchObject({ reason: 'token', code: 1, status: 403, text: 'Token disabled' });
    h.send(ids('u', 20));
    await new Promise((r) => setTimeout(r, 300));
    // One probe at a time while stalled: nothing else is sent
    expect(h.hec.requests.byStatus[403]).toBeLessThanOrEqual(6);
    expect(h.delivered).toHaveLength(0);
    fault.clear();
    h.delivery.kick();
    await until('delivered', () => h.delivered.length === 40);
    expect(h.delivery.stall).toBeNull();
    expect(h.stalls.at(-1)).toBeNull();
    expect(h.hec.duplicateIds()).toEqual([]);
  });

  it('resends after a lost answer: at least once, duplicates counted', async () => {
    const h = await harness();
    h.hec.faults.reset({ phase: 'after-accept', times: 1 });
    h.send(ids('r', 30));
    await until('delivered', () => h.delivered.length === 30);
    expect(h.hec.idCounts.size).toBe(30);
    expect(h.hec.duplicateIds()).toHaveLength(30);
    expect(h.duplicates).toBe(30);
  });

  it('retries a slow HEC after the request timeout', async () => {
    const h = await harness({}, {}, { timeoutMs: 150 });
    h.hec.faults.delay(400, { times: 1 });
    h.send(ids('slow', 10));
    await until('delivered', () => h.delivered.length === 10);
    expect(h.retried).toEqual({ timeout: 10 });
    expect(h.hec.idCounts.size).toBe(10);
  });

  it('ejects a dead endpoint and delivers through the others', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const hec = await startHecReceiver({ token: TOKEN, eventId: (e) => (e.event as { id?: string }).id });
    open.push(() => hec.close());
    const h = await harness({}, {}, { urls: [`http://127.0.0.1:${port}`, hec.url] });
    for (let b = 0; b < 6; b++) h.send(ids(`e${b}-`, 20));
    await until('delivered', () => h.delivered.length === 120);
    expect(hec.idCounts.size + h.hec.idCounts.size).toBe(120);
    expect(h.client.endpoints[0]!.ejected).toBe(true);
    expect(h.retried.connection).toBeGreaterThan(0);
  });

  it('with acks, an event counts only once HEC acknowledges it', async () => {
    const h = await harness(
      { ack: true, ackDelayMs: 300 },
      { ack: { enabled: true, pollMs: 50, timeoutMs: 10_000 } },
    );
    h.send(ids('k', 20));
    await until('accepted and awaiting the ack', () => h.delivery.awaitingAcks === 1);
    expect(h.hec.acceptedCount).toBe(20);
    expect(h.delivered).toHaveLength(0);
    await until('acked', () => h.delivered.length === 20);
    expect(h.delivery.awaitingAcks).toBe(0);
  });

  it('with acks, resends a batch never acknowledged within the ack timeout', async () => {
    const h = await harness({ ack: true }, { ack: { enabled: true, pollMs: 50, timeoutMs: 300 } });
    h.hec.faults.neverAck({ times: 1 });
    h.send(ids('n', 10));
    await until('delivered', () => h.delivered.length === 10);
    expect(h.hec.duplicateIds()).toHaveLength(10);
    expect(h.retried.ack_timeout).toBe(10);
    expect(h.duplicates).toBe(10);
  });

  it('gives up after maxAttempts when configured, dead-lettering the batch', async () => {
    const h = await harness({}, { retry: { baseMs: 5, maxMs: 10, maxAttempts: 3 } });
    h.hec.faults.busy();
    h.send(ids('g', 5));
    await until('dead', () => h.dead.length === 5);
    expect(h.dead[0]!.reason).toBe('hec_retries_exhausted');
  });
});
