import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../metrics/registry.js';
import { type FlagChange, FlagsClient } from './client.js';
import { FlagError, type FlagWrite, type StoredFlag } from './model.js';
import { type FlagStore, MemoryFlagStore, type StoreSink } from './store.js';
import { captureLogger, metricValue } from './test-helpers.js';

/** A store the test drives by hand through the sink. */
class ManualStore implements FlagStore {
  readonly kind = 'manual';
  readonly writable = true;
  sink!: StoreSink;
  failWrites = false;
  async start(sink: StoreSink): Promise<void> {
    this.sink = sink;
    sink.replace([]);
    sink.up();
  }
  async write(change: FlagWrite): Promise<StoredFlag> {
    if (this.failWrites) throw new Error('connection refused');
    return { ...change, description: '', owner: '', updatedAt: null, updatedBy: change.by, version: 1 };
  }
  async remove(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

async function setup(overrides: Record<string, number> = {}) {
  const store = new ManualStore();
  const { log, logs } = captureLogger();
  const flags = new FlagsClient({ store, log, overrides });
  const metrics = new MetricsRegistry({}, false);
  flags.registerMetrics(metrics);
  await flags.start();
  return { store, flags, logs, metrics };
}

describe('FlagsClient', () => {
  it('uses the default declared in code while the store does not have the flag, and warns once', async () => {
    const { flags, logs } = await setup();
    const on = flags.define('feature.on', { default: true, description: 'on by default' });
    const off = flags.define('feature.off');
    const quarter = flags.define('feature.quarter', { default: 2500 });
    expect(on.isAvailable('u1')).toBe(true);
    expect(flags.isAvailable('feature.on')).toBe(true);
    expect(off.isAvailable()).toBe(false);
    expect(quarter.value()).toBe(2500);
    expect(flags.get('feature.on')).toMatchObject({
      source: 'default',
      value: 10_000,
      description: 'on by default',
    });
    flags.isAvailable('feature.on');
    expect(logs.find('flag is not in the flag store: using the default declared in code')).toHaveLength(2);
  });

  it('treats unknown flags as off and warns once per name', async () => {
    const { flags, logs } = await setup();
    expect(flags.isAvailable('no.such.flag', 'k')).toBe(false);
    expect(flags.isAvailable('no.such.flag')).toBe(false);
    expect(flags.value('no.such.flag')).toBe(0);
    const warnings = logs.find(/^unknown flag evaluated/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', flag: 'no.such.flag' });
  });

  it('answers from the current state when the same flag is evaluated in a row (changed, removed, re-created)', async () => {
    // isAvailable remembers the last flag it looked up: it must never answer from a stale record.
    const { store, flags, logs, metrics } = await setup();
    store.sink.upsert({ name: 'row.flag', value: 10_000, version: 1 });
    store.sink.upsert({ name: 'other.flag', value: 0, version: 1 });
    expect(flags.isAvailable('row.flag', 'k')).toBe(true);
    expect(flags.isAvailable('other.flag', 'k')).toBe(false);
    expect(flags.isAvailable('row.flag', 'k')).toBe(true);
    store.sink.upsert({ name: 'row.flag', value: 0, version: 2 });
    expect(flags.isAvailable('row.flag', 'k')).toBe(false);
    store.sink.upsert({ name: 'row.flag', value: 10_000, version: 3 });
    expect(flags.isAvailable('row.flag', 'k')).toBe(true);
    // Removed from the store and not defined in code: unknown (off, warned), not the last value.
    store.sink.remove('row.flag');
    expect(flags.get('row.flag')).toBeUndefined();
    expect(flags.isAvailable('row.flag', 'k')).toBe(false);
    expect(logs.find(/^unknown flag evaluated/)).toHaveLength(1);
    // Defined again: a new record, whose default now decides.
    flags.define('row.flag', { default: true });
    expect(flags.isAvailable('row.flag', 'k')).toBe(true);
    expect(flags.isAvailable(`${'row'}.${'flag'}`, 'k')).toBe(true); // an equal string built at run time
    const text = await metrics.expose();
    expect(metricValue(text, 'flag_evaluations_total', { flag: 'row.flag', result: 'true' })).toBe(2);
  });

  it('prefers store values over defaults and overrides over both', async () => {
    const { store, flags } = await setup({ 'forced.flag': 10_000 });
    flags.define('forced.flag', { default: false });
    flags.define('stored.flag', { default: false });
    store.sink.upsert({ name: 'stored.flag', value: 10_000, version: 1 });
    store.sink.upsert({ name: 'forced.flag', value: 0, version: 1 });
    expect(flags.get('stored.flag')).toMatchObject({ value: 10_000, source: 'store', storeValue: 10_000 });
    expect(flags.get('forced.flag')).toMatchObject({
      value: 10_000,
      source: 'override',
      storeValue: 0,
      override: 10_000,
    });
    expect(flags.isAvailable('forced.flag')).toBe(true);
  });

  it('notifies listeners of effective changes only', async () => {
    const { store, flags } = await setup();
    const changes: FlagChange[] = [];
    const unsubscribe = flags.onChange((change) => changes.push(change));
    store.sink.upsert({ name: 'a.flag', value: 100, version: 1 });
    store.sink.upsert({ name: 'a.flag', value: 100, version: 1 });
    store.sink.upsert({ name: 'a.flag', value: 200, version: 2 });
    store.sink.remove('a.flag');
    unsubscribe();
    store.sink.upsert({ name: 'a.flag', value: 300, version: 3 });
    expect(changes.map((c) => [c.value, c.previous, c.source])).toEqual([
      [100, 0, 'store'],
      [200, 100, 'store'],
      [0, 200, 'default'],
    ]);
  });

  it('ignores updates older than what it has (racing notifications and write responses)', async () => {
    const { store, flags } = await setup();
    store.sink.upsert({ name: 'race.flag', value: 7000, version: 9 });
    store.sink.upsert({ name: 'race.flag', value: 1000, version: 5 });
    expect(flags.value('race.flag')).toBe(7000);
    // a full snapshot read before version 9 was written does not roll it back, or delete it
    store.sink.replace([{ name: 'race.flag', value: 1000, version: 5 }], 6);
    expect(flags.value('race.flag')).toBe(7000);
    store.sink.replace([{ name: 'race.flag', value: 7000, version: 9 }], 9);
    store.sink.replace([], 8);
    expect(flags.value('race.flag')).toBe(7000);
    store.sink.replace([], 9);
    expect(flags.get('race.flag')).toBeUndefined();
  });

  it('lets snapshots win when the store versions went backwards (restored database)', async () => {
    const { store, flags } = await setup();
    store.sink.upsert({ name: 'restored.flag', value: 7000, version: 90 });
    store.sink.replace([{ name: 'restored.flag', value: 10, version: 3 }], 4);
    expect(flags.value('restored.flag')).toBe(7000);
    store.sink.replace([{ name: 'restored.flag', value: 10, version: 3 }], 4);
    expect(flags.value('restored.flag')).toBe(10);
    store.sink.upsert({ name: 'restored.flag', value: 20, version: 5 });
    expect(flags.value('restored.flag')).toBe(20);
  });

  it('takes snapshots without a version as the truth (file, http)', async () => {
    const { store, flags } = await setup();
    store.sink.upsert({ name: 'auth.flag', value: 7000, version: 90 });
    store.sink.replace([{ name: 'auth.flag', value: 10, version: 1 }]);
    expect(flags.value('auth.flag')).toBe(10);
  });

  it('rejects corrupt updates and keeps the last good snapshot', async () => {
    const { store, flags, logs, metrics } = await setup();
    store.sink.replace([
      { name: 'good.flag', value: 5000 },
      { name: 'other.flag', value: 10_000 },
    ]);
    const bad = [
      [{ name: 'good.flag', value: 10_001 }],
      [{ name: 'good.flag', value: 2.5 }],
      [{ name: 'good.flag', value: '5000' }],
      [{ name: 'Bad Name', value: 1 }],
      [
        { name: 'good.flag', value: 1 },
        { name: 'good.flag', value: 2 },
      ],
      ['not an object'],
    ];
    for (const records of bad) expect(store.sink.replace(records)).toBe(false);
    expect(store.sink.upsert({ name: 'good.flag', value: -1 })).toBe(false);
    expect(flags.value('good.flag')).toBe(5000);
    expect(flags.value('other.flag')).toBe(10_000);
    expect(logs.find('flag update rejected: keeping the last good snapshot')).toHaveLength(bad.length + 1);
    expect(metricValue(await metrics.expose(), 'flags_rejected_updates_total')).toBe(bad.length + 1);
  });

  it('keeps serving the snapshot while the store is down, with one warning, and reports recovery', async () => {
    const { store, flags, logs, metrics } = await setup();
    store.sink.upsert({ name: 'kept.flag', value: 10_000 });
    store.sink.down(new Error('connection refused'));
    store.sink.down(new Error('connection refused'));
    expect(flags.isAvailable('kept.flag', 'k')).toBe(true);
    expect(flags.status.up).toBe(false);
    expect(metricValue(await metrics.expose(), 'flags_store_up')).toBe(0);
    expect(logs.find('flag store unreachable: serving the last good snapshot')).toHaveLength(1);
    store.sink.up();
    expect(metricValue(await metrics.expose(), 'flags_store_up')).toBe(1);
    expect(logs.find('flag store reachable again')).toHaveLength(1);
  });

  it('counts evaluations in plain fields and publishes them at scrape time', async () => {
    const { store, flags, metrics } = await setup();
    store.sink.upsert({ name: 'count.flag', value: 10_000 });
    store.sink.upsert({ name: 'zero.flag', value: 0 });
    const handle = flags.define('count.flag');
    for (let i = 0; i < 10; i++) flags.isAvailable('count.flag', `k${i}`);
    for (let i = 0; i < 5; i++) handle.isAvailable();
    for (let i = 0; i < 3; i++) flags.isAvailable('zero.flag');
    let text = await metrics.expose();
    expect(metricValue(text, 'flag_evaluations_total', { flag: 'count.flag', result: 'true' })).toBe(15);
    expect(metricValue(text, 'flag_evaluations_total', { flag: 'zero.flag', result: 'false' })).toBe(3);
    expect(metricValue(text, 'flag_value', { flag: 'count.flag' })).toBe(10_000);
    expect(metricValue(text, 'flags_last_update_age_seconds')).toBeLessThan(5);
    flags.isAvailable('count.flag');
    text = await metrics.expose();
    expect(metricValue(text, 'flag_evaluations_total', { flag: 'count.flag', result: 'true' })).toBe(16);
  });

  it('validates names, values and definitions', async () => {
    const { flags, store } = await setup();
    expect(() => flags.define('Bad Name')).toThrow(/invalid flag name/);
    expect(() => flags.define('x'.repeat(129))).toThrow(/invalid flag name/);
    expect(() => flags.define('ok.flag', { default: 10_001 })).toThrow(/invalid flag value/);
    flags.define('ok.flag', { default: 100 });
    expect(() => flags.define('ok.flag', { default: 200 })).toThrow(/already defined/);
    await expect(flags.set('ok.flag', 10_001, { by: 't' })).rejects.toMatchObject({
      code: 'invalid_flag_value',
    });
    await expect(flags.set('ok.flag', 1.5, { by: 't' })).rejects.toMatchObject({
      code: 'invalid_flag_value',
    });
    await expect(flags.set('BAD', 1, { by: 't' })).rejects.toMatchObject({ code: 'invalid_flag_name' });
    expect((await flags.set('ok.flag', '25%', { by: 't' })).value).toBe(2500);
    expect((await flags.set('ok.flag', true, { by: 't' })).value).toBe(10_000);
    store.failWrites = true;
    const failure = await flags.set('ok.flag', 0, { by: 't' }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FlagError);
    expect(failure).toMatchObject({ statusCode: 503, code: 'flag_store_unavailable' });
    expect(flags.value('ok.flag')).toBe(10_000);
  });

  it('writes through the memory store and lists flags sorted', async () => {
    const { log } = captureLogger();
    const flags = new FlagsClient({ store: new MemoryFlagStore([{ name: 'b.flag', value: 1 }]), log });
    await flags.start();
    const info = await flags.set('a.flag', 4200, { by: 'alice', description: 'A', owner: 'team-a' });
    expect(info).toMatchObject({
      name: 'a.flag',
      value: 4200,
      source: 'store',
      description: 'A',
      owner: 'team-a',
      updatedBy: 'alice',
    });
    expect(info.updatedAt).toMatch(/^\d{4}-/);
    expect(flags.list().map((f) => f.name)).toEqual(['a.flag', 'b.flag']);
    expect(await flags.remove('a.flag', { by: 'alice' })).toBe(true);
    expect(flags.get('a.flag')).toBeUndefined();
    await flags.close();
  });
});
