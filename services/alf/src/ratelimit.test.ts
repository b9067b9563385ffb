import { describe, expect, it } from 'vitest';
import { DEBUG, ERROR, INFO, LEVEL_COUNT, WARN } from './levels.js';
import { RateLimiter, TokenBucket } from './ratelimit.js';
import { parseRules } from './rules.js';
import { DROP_BUDGET, DROP_RATE_LIMIT, ServiceRegistry, ServiceState } from './services.js';

const SLOTS = LEVEL_COUNT * 2;

describe('TokenBucket', () => {
  it('starts full, refills at its rate, caps at its burst', () => {
    const b = new TokenBucket(10, 20, 0);
    let taken = 0;
    while (b.take(1, 0)) taken++;
    expect(taken).toBe(20);
    expect(b.take(1, 50)).toBe(false); // 0.5 token
    expect(b.take(1, 100)).toBe(true); // 1 token after 100 ms
    expect(b.take(1, 100_000)).toBe(true);
    expect(b.tokens).toBe(19);
  });

  it('keeps a floor back', () => {
    const b = new TokenBucket(0, 10, 0);
    let taken = 0;
    while (b.take(1, 0, 4)) taken++;
    expect(taken).toBe(6);
    expect(b.take(1, 0)).toBe(true);
  });
});

function run(
  limiter: RateLimiter,
  state: ServiceState,
  level: number,
  perMs: number,
  ms: number,
  bytes = 100,
) {
  let passed = 0;
  let dropped = 0;
  for (let t = 1; t <= ms; t++) {
    for (let i = 0; i < perMs; i++) {
      if (limiter.admit(state, level, bytes, t) === 0) passed++;
      else dropped++;
    }
  }
  return { passed, dropped };
}

describe('RateLimiter', () => {
  const rules = parseRules({
    limits: [
      { service: 'tweet-*', level: 'debug', rate: 1000, burst: 2000 },
      { service: 'shared-*', rate: 1, burst: 100, per: 'rule' },
      { service: 'muted', rate: 0 },
    ],
  });

  it('limits a service and level by its rule, one bucket per service', () => {
    const limiter = new RateLimiter(1, SLOTS, rules.limits, rules.budget, 0);
    const a = new ServiceState('tweet-api', 'tweet-api');
    const b = new ServiceState('tweet-web', 'tweet-web');
    // 10 debug events per ms for 1 s = 10000 offered: burst 2000 + 1000 refill
    const ra = run(limiter, a, DEBUG, 10, 1000);
    expect(ra.passed).toBeGreaterThanOrEqual(2999);
    expect(ra.passed).toBeLessThanOrEqual(3001);
    expect(limiter.admit(a, DEBUG, 100, 1000)).toBe(DROP_RATE_LIMIT);
    // Another service matching the rule has its own bucket; info is not limited
    expect(limiter.admit(b, DEBUG, 100, 1000)).toBe(0);
    expect(run(limiter, a, INFO, 10, 100).dropped).toBe(0);
  });

  it('shares one bucket across services with per: rule, and drops all with rate 0', () => {
    const limiter = new RateLimiter(1, SLOTS, rules.limits, rules.budget, 0);
    const a = new ServiceState('shared-a', 'a');
    const b = new ServiceState('shared-b', 'b');
    expect(run(limiter, a, INFO, 1, 60).passed).toBe(60);
    expect(run(limiter, b, INFO, 1, 40).passed).toBe(40);
    expect(limiter.admit(b, INFO, 1, 40)).toBe(DROP_RATE_LIMIT);
    expect(limiter.admit(new ServiceState('muted', 'm'), ERROR, 1, 0)).toBe(DROP_RATE_LIMIT);
  });

  it('a new rules generation starts with fresh buckets', () => {
    const a = new ServiceState('tweet-api', 'tweet-api');
    const first = new RateLimiter(1, SLOTS, rules.limits, rules.budget, 0);
    run(first, a, DEBUG, 10, 300);
    expect(first.admit(a, DEBUG, 1, 300)).toBe(DROP_RATE_LIMIT);
    const next = parseRules({ limits: [{ service: 'other', rate: 1 }] });
    const second = new RateLimiter(2, SLOTS, next.limits, next.budget, 300);
    expect(second.admit(a, DEBUG, 1, 300)).toBe(0);
  });

  it('the global budget drops the least important levels first', () => {
    const r = parseRules({ budget: { eventsPerSec: 10_000 } });
    const limiter = new RateLimiter(1, SLOTS, r.limits, r.budget, 0);
    const s = new ServiceState('s', 's');
    const passed = [0, 0, 0, 0, 0, 0];
    // Offered per ms: 4 debug, 5 info, 2 warn, 1 error = 12000/s against 10000/s
    for (let t = 1; t <= 5000; t++) {
      for (const [level, n] of [
        [DEBUG, 4],
        [INFO, 5],
        [WARN, 2],
        [ERROR, 1],
      ] as const)
        for (let i = 0; i < n; i++) if (limiter.admit(s, level, 100, t) === 0) passed[level]!++;
    }
    // Error, warn and info get everything they offered; debug gets what is left (2000/s)
    expect(passed[ERROR]).toBe(5000);
    expect(passed[WARN]).toBe(10_000);
    expect(passed[INFO]).toBe(25_000);
    const debugRate = passed[DEBUG]! / 5;
    expect(debugRate).toBeGreaterThan(1900);
    expect(debugRate).toBeLessThan(3200); // the first second spends the initial burst
  });

  it('cuts info only once debug is gone, never error before them', () => {
    const r = parseRules({ budget: { eventsPerSec: 1000 } });
    const limiter = new RateLimiter(1, SLOTS, r.limits, r.budget, 0);
    const s = new ServiceState('s', 's');
    const passed = [0, 0, 0, 0, 0, 0];
    for (let t = 1; t <= 5000; t++) {
      for (const [level, n] of [
        [DEBUG, 1],
        [INFO, 2],
        [ERROR, 1],
      ] as const)
        for (let i = 0; i < n; i++) if (limiter.admit(s, level, 100, t) === 0) passed[level]!++;
    }
    expect(passed[ERROR]).toBe(5000); // 1000/s of errors
    expect(passed[DEBUG]).toBeLessThan(1000); // only from the initial burst
    expect(passed[INFO]! / 5).toBeLessThan(200);
    expect(limiter.admit(s, INFO, 1, 5000)).toBe(DROP_BUDGET);
  });

  it('limits bytes per second too', () => {
    const r = parseRules({ budget: { bytesPerSec: 100_000 } });
    const limiter = new RateLimiter(1, SLOTS, r.limits, r.budget, 0);
    const s = new ServiceState('s', 's');
    const { passed } = run(limiter, s, ERROR, 1, 2000, 1000);
    expect(passed).toBeGreaterThanOrEqual(299);
    expect(passed).toBeLessThanOrEqual(301);
  });
});

describe('ServiceRegistry', () => {
  it('bounds services and metric labels', () => {
    const reg = new ServiceRegistry({ maxServices: 3, maxLabels: 2 });
    expect(reg.get('a').label).toBe('a');
    expect(reg.get('b').label).toBe('b');
    expect(reg.get('c').label).toBe('other');
    expect(reg.get('d')).toBe(reg.overflow);
    expect(reg.get('a')).toBe(reg.get('a'));
  });

  it('keeps a per-second window for the top view and forgets idle services', () => {
    const reg = new ServiceRegistry();
    const s = reg.get('a');
    for (let sec = 100; sec < 110; sec++) for (let i = 0; i < 10; i++) s.count(sec, 100);
    s.countDrop(109, DROP_BUDGET, INFO);
    expect(s.totals(110, 10)).toEqual({ events: 100, bytes: 10_000, dropped: 1 });
    expect(s.totals(110, 5)).toEqual({ events: 50, bytes: 5000, dropped: 1 });
    expect(s.totals(200, 59)).toEqual({ events: 0, bytes: 0, dropped: 0 });
    expect(reg.evictIdle(300)).toBe(1);
    expect(reg.size).toBe(0);
  });
});
