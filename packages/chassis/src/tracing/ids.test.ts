import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { PooledIdGenerator } from './ids.js';

describe('PooledIdGenerator', () => {
  it('makes valid, distinct W3C ids across pool refills', () => {
    const ids = new PooledIdGenerator();
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const trace = ids.generateTraceId();
      const span = ids.generateSpanId();
      expect(isValidTraceId(trace)).toBe(true);
      expect(isValidSpanId(span)).toBe(true);
      expect(trace).toMatch(/^[0-9a-f]{32}$/);
      expect(span).toMatch(/^[0-9a-f]{16}$/);
      traces.add(trace);
      spans.add(span);
    }
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
  });

  it('uses every hex digit about equally often', () => {
    const ids = new PooledIdGenerator();
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++)
      for (const c of ids.generateTraceId()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(16);
    for (const n of counts.values()) expect(Math.abs(n / 8000 - 1)).toBeLessThan(0.1);
  });

  it('reports the XOR of the last trace id’s four 32-bit words, across pool refills', () => {
    const ids = new PooledIdGenerator();
    for (let i = 0; i < 1000; i++) {
      const id = ids.generateTraceId();
      if (i % 3 === 0) ids.generateSpanId(); // shifts where ids fall in the pool
      let xor = 0;
      for (let w = 0; w < 32; w += 8) xor = (xor ^ Number.parseInt(id.slice(w, w + 8), 16)) >>> 0;
      expect(ids.lastTraceIdXor).toBe(xor);
    }
  });

  it('hands out a trace id given to reuseTraceId once, then random ones again', () => {
    const ids = new PooledIdGenerator();
    ids.reuseTraceId('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ids.generateTraceId()).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ids.generateTraceId()).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    ids.reuseTraceId('4bf92f3577b34da6a3ce929d0e0e4736');
    ids.reuseTraceId(undefined);
    expect(ids.generateTraceId()).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});
