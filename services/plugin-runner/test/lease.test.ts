// Leases, fencing and cursor monotonicity against the storage itself, on PGlite and real Postgres.

import type { Db } from '@fleet/chassis/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MalformedPageError } from '../src/errors.js';
import { preparePage } from '../src/plugin.js';
import { type RunResult, Store } from '../src/store.js';
import { backends, openTestDb, sleep } from './helpers.js';

const def = (id: string) => ({ id, plugin: 'counter', config: {}, schedule: { every: '1h' } });

function result(nextRunAt = new Date(Date.now() + 3_600_000)): RunResult {
  return {
    nextRunAt,
    consecutiveFailures: 0,
    circuitOpens: 0,
    circuitOpenUntil: null,
    succeeded: true,
    recentErrors: [],
    lastRun: {
      replica: 'a',
      fencing_token: 1,
      started_at: new Date().toISOString(),
      finished_at: new Date().toISOString(),
      duration_ms: 1,
      outcome: 'success',
      pages: 0,
      events: 0,
    },
  };
}

describe.each(backends())('leases on %s', (backend) => {
  let db: Db;
  let store: Store;
  beforeAll(async () => {
    db = await openTestDb(backend);
    store = new Store(db);
  });
  afterAll(() => db.close());

  it('one holder at a time; the lease is taken over after it expires, with a higher fencing token', async () => {
    await store.create(def('lease-a'), 'api', 't', new Date(Date.now() - 1000));
    const first = await store.acquire('lease-a', 'replica-1', 300);
    expect(first).toMatchObject({ token: 1, cursor: null, cursorSeq: 0 });
    expect(await store.acquire('lease-a', 'replica-2', 300)).toBeUndefined();
    expect(await store.acquire('lease-a', 'replica-1', 300)).toBeUndefined();
    await sleep(350);
    const second = await store.acquire('lease-a', 'replica-2', 300);
    expect(second?.token).toBe(2);
    const state = (await store.get('lease-a'))!.state;
    expect(state.leaseHolder).toBe('replica-2');
    expect(state.fencingToken).toBe(2);
  });

  it('renewal extends the lease of the current token only', async () => {
    await store.create(def('lease-b'), 'api', 't', new Date(Date.now() - 1000));
    const lease = (await store.acquire('lease-b', 'r1', 200))!;
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      expect(await store.renew('lease-b', 'r1', lease.token, 200)).toBe(true);
    }
    // 400 ms after acquisition the 200 ms lease still holds: renewed
    expect(await store.acquire('lease-b', 'r2', 200)).toBeUndefined();
    expect(await store.renew('lease-b', 'r1', lease.token + 1, 200)).toBe(false);
    expect(await store.renew('lease-b', 'r2', lease.token, 200)).toBe(false);
    await sleep(250);
    const next = (await store.acquire('lease-b', 'r2', 200))!;
    expect(next.token).toBe(lease.token + 1);
    expect(await store.renew('lease-b', 'r1', lease.token, 200)).toBe(false);
  });

  it('a paused replica with an old token cannot move the cursor or release over the new holder', async () => {
    await store.create(def('lease-c'), 'api', 't', new Date(Date.now() - 1000));
    const old = (await store.acquire('lease-c', 'paused', 100))!;
    expect(await store.commitCursor('lease-c', old.token, old.cursorSeq, '5', undefined, 5)).toBe(true);
    await sleep(150);
    const current = (await store.acquire('lease-c', 'fresh', 5000))!;
    expect(current.cursor).toBe(5);
    expect(current.cursorSeq).toBe(1);
    expect(await store.commitCursor('lease-c', current.token, current.cursorSeq, '9', Date.now(), 4)).toBe(
      true,
    );
    // The paused replica wakes up and tries to write what it had
    expect(await store.commitCursor('lease-c', old.token, 1, '7', undefined, 2)).toBe(false);
    expect(await store.commitCursor('lease-c', old.token, 2, '7', undefined, 2)).toBe(false);
    expect(await store.release('lease-c', old.token, result())).toBe(false);
    expect(await store.renew('lease-c', 'paused', old.token, 100)).toBe(false);
    const state = (await store.get('lease-c'))!.state;
    expect(state.cursor).toBe(9);
    expect(state.leaseHolder).toBe('fresh');
    expect(state.eventsTotal).toBe(9);
  });

  it('the cursor only moves forward from the sequence its writer read', async () => {
    await store.create(def('lease-d'), 'api', 't', new Date(Date.now() - 1000));
    const lease = (await store.acquire('lease-d', 'r1', 5000))!;
    expect(await store.commitCursor('lease-d', lease.token, 0, '{"n":1}', undefined, 1)).toBe(true);
    // A replayed commit of the same step (same expected sequence) is refused
    expect(await store.commitCursor('lease-d', lease.token, 0, '{"n":0}', undefined, 1)).toBe(false);
    expect(await store.commitCursor('lease-d', lease.token, 1, '{"n":2}', undefined, 1)).toBe(true);
    const state = (await store.get('lease-d'))!.state;
    expect(state.cursor).toEqual({ n: 2 });
    expect(state.cursorSeq).toBe(2);
    expect(state.pagesTotal).toBe(2);
  });

  it('newest_event_at never goes back', async () => {
    await store.create(def('lease-e'), 'api', 't', new Date(Date.now() - 1000));
    const lease = (await store.acquire('lease-e', 'r1', 5000))!;
    await store.commitCursor('lease-e', lease.token, 0, '1', 2_000_000_000_000, 1);
    await store.commitCursor('lease-e', lease.token, 1, '2', 1_000_000_000_000, 1);
    await store.commitCursor('lease-e', lease.token, 2, '3', undefined, 0);
    expect((await store.get('lease-e'))!.state.newestEventAt?.getTime()).toBe(2_000_000_000_000);
  });

  it('many replicas racing for one lease: exactly one wins', async () => {
    await store.create(def('lease-f'), 'api', 't', new Date(Date.now() - 1000));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.acquire('lease-f', `r${i}`, 5000)),
    );
    const winners = results.filter(Boolean);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.token).toBe(1);
  });

  it('due(): enabled instances whose time has come and whose lease is free', async () => {
    await store.create(def('due-now'), 'api', 't', new Date(Date.now() - 1000));
    await store.create(def('due-later'), 'api', 't', new Date(Date.now() + 60_000));
    await store.create({ ...def('due-disabled'), enabled: false }, 'api', 't', new Date(Date.now() - 1000));
    await store.create(def('due-leased'), 'api', 't', new Date(Date.now() - 1000));
    await store.acquire('due-leased', 'r1', 60_000);
    const due = (await store.due(100, [])).map((d) => d.id).filter((id) => id.startsWith('due-'));
    expect(due).toEqual(['due-now']);
    expect((await store.due(100, ['due-now'])).map((d) => d.id)).not.toContain('due-now');
  });

  it('a run requested while the instance runs is due again as soon as the lease is released', async () => {
    await store.create(def('lease-g'), 'api', 't', new Date(Date.now() - 1000));
    const lease = (await store.acquire('lease-g', 'r1', 5000))!;
    await sleep(5);
    await store.requestRun('lease-g');
    await store.release('lease-g', lease.token, result());
    const state = (await store.get('lease-g'))!.state;
    expect(state.nextRunAt.getTime()).toBeLessThanOrEqual(Date.now() + 50);
    const again = (await store.acquire('lease-g', 'r2', 5000))!;
    expect(again.token).toBe(lease.token + 1);
    await store.release('lease-g', again.token, result());
    expect((await store.get('lease-g'))!.state.nextRunAt.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('deleting an instance fences off its running holder', async () => {
    await store.create(def('lease-h'), 'api', 't', new Date(Date.now() - 1000));
    const lease = (await store.acquire('lease-h', 'r1', 5000))!;
    expect(await store.remove('lease-h')).toBe(true);
    expect(await store.commitCursor('lease-h', lease.token, 0, '1', undefined, 1)).toBe(false);
    expect(await store.renew('lease-h', 'r1', lease.token, 5000)).toBe(false);
  });
});

describe('cursor monotonicity of pages', () => {
  const context = {
    instance: 'i',
    plugin: 'p',
    maxEvents: 10,
    compare: (a: unknown, b: unknown) => Number(a) - Number(b),
  };

  it('refuses a page whose cursor is before the committed one', () => {
    expect(() => preparePage({ events: [], cursor: 4 }, { ...context, current: 5 })).toThrow(
      MalformedPageError,
    );
    expect(() => preparePage({ events: [], cursor: 4 }, { ...context, current: 5 })).toThrow(
      /cursor moved backwards/,
    );
    expect(preparePage({ events: [], cursor: 5 }, { ...context, current: 5 }).cursor).toBe(5);
    expect(preparePage({ events: [], cursor: 6 }, { ...context, current: 5 }).cursor).toBe(6);
    // Without a committed cursor any cursor is accepted
    expect(preparePage({ events: [], cursor: 0 }, { ...context, current: null }).cursor).toBe(0);
  });
});
