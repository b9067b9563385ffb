import type { ProduceMessage } from '@fleet/chassis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type GeneratorOptions, LogGenerator } from '../src/generator.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function generator(overrides: Partial<GeneratorOptions> = {}) {
  const batches: ProduceMessage[][] = [];
  const produced = new Map<string, number>();
  let skipped = 0;
  const gen = new LogGenerator({
    send: async (messages) => {
      batches.push(messages);
    },
    services: ['a', 'b'],
    hostsPerService: 2,
    floodService: 'noisy',
    rates: () => ({ calm: 1000, flood: 0 }),
    tickMs: 100,
    maxLagMs: 1000,
    onProduced: (service, level, count) =>
      produced.set(`${service}/${level}`, (produced.get(`${service}/${level}`) ?? 0) + count),
    onSkipped: (count) => {
      skipped += count;
    },
    onError: (error) => {
      throw error;
    },
    now: () => Date.now(),
    ...overrides,
  });
  const total = () => [...produced.values()].reduce((a, b) => a + b, 0);
  return { gen, batches, produced, total, skipped: () => skipped };
}

describe('LogGenerator', () => {
  it('produces exactly rate × time, in one batch per tick, fractions carried over', async () => {
    const { gen, batches, total } = generator({ rates: () => ({ calm: 333, flood: 0 }) });
    gen.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await gen.stop();
    expect(batches).toHaveLength(100);
    expect(total()).toBe(3330); // 33.3 per tick: floors carried, no drift over 100 ticks
  });

  it('writes records in the shape ALF reads, with service and level headers', async () => {
    const { gen, batches } = generator({ rates: () => ({ calm: 100, flood: 50 }) });
    gen.start();
    await vi.advanceTimersByTimeAsync(1000);
    await gen.stop();
    const all = batches.flat();
    expect(all).toHaveLength(150);
    for (const message of all) {
      const record = JSON.parse(String(message.value)) as Record<string, unknown>;
      expect(record).toMatchObject({
        service: expect.any(String),
        level: expect.any(String),
        host: expect.any(String),
      });
      expect(Number.isNaN(Date.parse(String(record.timestamp)))).toBe(false);
      expect(message.headers).toEqual({ service: record.service, level: record.level });
    }
    const noisy = all.filter((m) => m.headers?.service === 'noisy');
    expect(noisy).toHaveLength(50);
    expect(noisy.every((m) => m.headers?.level === 'debug')).toBe(true);
    expect(new Set(all.map((m) => m.headers?.service))).toEqual(new Set(['a', 'b', 'noisy']));
  });

  it('keeps one send in flight and skips what is owed beyond maxLagMs (bounded memory)', async () => {
    let release: () => void = () => {};
    const sends: number[] = [];
    const { gen, skipped } = generator({
      send: (messages) => {
        sends.push(messages.length);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    gen.start();
    await vi.advanceTimersByTimeAsync(5000); // Kafka stalls for 5 s
    expect(sends).toEqual([100]);
    expect(skipped()).toBeGreaterThanOrEqual(3800); // ~4900 owed, 1000 kept
    release();
    await vi.advanceTimersByTimeAsync(100);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toBeLessThanOrEqual(1100); // at most maxLagMs worth plus one tick
    release();
    await gen.stop();
  });

  it('follows rate changes at the next tick and stops cleanly', async () => {
    const rates = { calm: 100, flood: 0 };
    const { gen, total } = generator({ rates: () => rates });
    gen.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(total()).toBe(100);
    rates.calm = 0;
    rates.flood = 1000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(total()).toBe(1100);
    await gen.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(total()).toBe(1100);
    expect(gen.running).toBe(false);
  });
});
