import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offsets.js';

describe('OffsetTracker', () => {
  it('has nothing to commit before the first message', () => {
    const t = new OffsetTracker();
    expect(t.committable).toBeUndefined();
    expect(t.position).toBe(-1);
    expect(t.inFlight).toBe(0);
  });

  it('commits the contiguous finished prefix only, never past an unfinished message', () => {
    const t = new OffsetTracker();
    for (const o of [10, 11, 12, 13]) expect(t.take(o)).toBe(true);
    expect(t.committable).toBe(10);
    t.finish(12);
    t.finish(13);
    expect(t.committable).toBe(10);
    expect(t.inFlight).toBe(4);
    t.finish(10);
    expect(t.committable).toBe(11);
    t.finish(11);
    expect(t.committable).toBe(14);
    expect(t.inFlight).toBe(0);
  });

  it('follows gaps in offsets (compaction, control records)', () => {
    const t = new OffsetTracker();
    t.take(5);
    t.take(9);
    t.finish(9);
    expect(t.committable).toBe(5);
    t.finish(5);
    expect(t.committable).toBe(10);
  });

  it('refuses offsets already taken (redelivery after a rebalance)', () => {
    const t = new OffsetTracker();
    t.take(0);
    t.take(1);
    expect(t.seen(1)).toBe(true);
    expect(t.take(1)).toBe(false);
    expect(t.take(0)).toBe(false);
    expect(t.seen(2)).toBe(false);
    expect(t.take(2)).toBe(true);
  });

  it('stays correct over many messages finished out of order', () => {
    const t = new OffsetTracker();
    const n = 5000;
    for (let o = 0; o < n; o++) t.take(o);
    const order = Array.from({ length: n }, (_, i) => i);
    // Deterministic shuffle within windows of 8 (bounded reordering, like concurrent handlers)
    for (let i = 0; i < n; i += 8) order.splice(i, 8, ...order.slice(i, i + 8).reverse());
    const finished = new Set<number>();
    let lowestUnfinished = 0;
    for (const o of order) {
      t.finish(o);
      finished.add(o);
      while (finished.has(lowestUnfinished)) lowestUnfinished++;
      if (t.committable !== lowestUnfinished) expect(t.committable).toBe(lowestUnfinished);
    }
    expect(t.committable).toBe(n);
    expect(t.inFlight).toBe(0);
  });
});
