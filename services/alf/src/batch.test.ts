import type { KafkaMessage } from '@fleet/chassis';
import { splitHecBatch } from '@fleet/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Batch, Batcher, Chunk, PendingEvent } from './batch.js';
import { ServiceState } from './services.js';

const state = new ServiceState('svc', 'svc');

function message(value: string, offset = 0): KafkaMessage {
  return {
    topic: 't',
    partition: 0,
    offset,
    key: null,
    value: Buffer.from(value),
    headers: {},
    timestamp: 0,
  };
}

function add(batcher: Batcher, chunk: Chunk, value: string, offset = 0, host?: string) {
  const m = message(value, offset);
  const v = m.value!;
  chunk.add();
  const meta = `{"time":1.5${host ? `,"host":${JSON.stringify(host)}` : ''},"source":"svc","event":`;
  batcher.append(new PendingEvent(chunk, m, 1000, v.length, state, 2), meta, v);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Batcher', () => {
  it('seals on the event bound and embeds each record byte for byte', () => {
    const sealed: Batch[] = [];
    const batcher = new Batcher({
      maxEvents: 3,
      maxBytes: 1 << 20,
      lingerMs: 10_000,
      onSeal: (b) => sealed.push(b),
    });
    const chunk = new Chunk();
    const records = ['{"a":1}', '{"b":"x y","c":[1,2]}', '{ "spaced" : true }', '{"d":null}'];
    for (const [i, r] of records.entries()) add(batcher, chunk, r, i, i === 1 ? 'web-1' : undefined);
    expect(sealed).toHaveLength(1);
    const batch = sealed[0]!;
    expect(batch.size).toBe(3);
    const text = batch.bytes().toString();
    const { objects: events, invalidAt } = splitHecBatch(text);
    expect(invalidAt).toBeUndefined();
    expect(events).toHaveLength(3);
    expect(events[0]).toEqual({ time: 1.5, source: 'svc', event: { a: 1 } });
    expect(events[1]!.host).toBe('web-1');
    // The record's own bytes follow "event": unchanged (whitespace included)
    expect(text).toContain(',"event":{ "spaced" : true }}\n');
    expect(batch.slice(1, 2).toString()).toBe(`${text.split('\n')[1]}\n`);
    batcher.seal();
    expect(sealed).toHaveLength(2);
    expect(sealed[1]!.size).toBe(1);
    batcher.close();
  });

  it('seals on the byte bound and sends an event too big for a batch alone', () => {
    const sealed: Batch[] = [];
    const batcher = new Batcher({
      maxEvents: 1000,
      maxBytes: 200,
      lingerMs: 10_000,
      onSeal: (b) => sealed.push(b),
    });
    const chunk = new Chunk();
    add(batcher, chunk, '{"a":"x"}');
    add(batcher, chunk, `{"big":"${'y'.repeat(500)}"}`);
    add(batcher, chunk, '{"b":"x"}');
    batcher.seal();
    expect(sealed.map((b) => b.size)).toEqual([1, 1, 1]);
    expect(sealed[1]!.length).toBeGreaterThan(500);
    for (const b of sealed) expect(b.length).toBe(b.bytes().length);
    batcher.close();
  });

  it('seals after the linger time', () => {
    vi.useFakeTimers();
    const sealed: Batch[] = [];
    const batcher = new Batcher({
      maxEvents: 1000,
      maxBytes: 1 << 20,
      lingerMs: 50,
      onSeal: (b) => sealed.push(b),
    });
    add(batcher, new Chunk(), '{"a":1}');
    vi.advanceTimersByTime(49);
    expect(sealed).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(sealed).toHaveLength(1);
    batcher.close();
  });

  it('sub-batches keep their events and bytes', () => {
    const sealed: Batch[] = [];
    const batcher = new Batcher({
      maxEvents: 5,
      maxBytes: 1 << 20,
      lingerMs: 10_000,
      onSeal: (b) => sealed.push(b),
    });
    const chunk = new Chunk();
    for (let i = 0; i < 5; i++) add(batcher, chunk, `{"i":${i}}`, i);
    const batch = sealed[0]!;
    const sub = batch.sub(2, 4);
    expect(sub.size).toBe(2);
    expect(sub.events.map((e) => e.message.offset)).toEqual([2, 3]);
    expect(sub.bytes().toString()).toBe(batch.slice(2, 4).toString());
    expect(sub.slice(1, 2).toString()).toContain('"event":{"i":3}');
  });
});

describe('Chunk', () => {
  it('resolves once sealed and every event is done', async () => {
    const chunk = new Chunk();
    chunk.add();
    chunk.add();
    chunk.seal();
    expect(chunk.pending).toBe(2);
    chunk.done();
    expect(chunk.settled).toBe(false);
    chunk.done();
    await chunk.promise;
    expect(chunk.settled).toBe(true);
    const empty = new Chunk();
    empty.seal();
    expect(empty.settled).toBe(true);
  });

  it('can be abandoned', async () => {
    const chunk = new Chunk();
    chunk.add();
    chunk.seal();
    chunk.abandon(new Error('deadline'));
    await expect(chunk.promise).rejects.toThrow('deadline');
    chunk.done(); // late completion is ignored
  });
});
