// The runner in one service: failures stay in their run, circuits, flags, metrics, shutdown.

import type { Db } from '@fleet/chassis/db';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../src/errors.js';
import type { RunInfo } from '../src/runner.js';
import {
  cheapBackend,
  MemorySink,
  openTestDb,
  sleep,
  startRunner,
  type TestRunner,
  waitFor,
} from './helpers.js';
import { counterPlugin, scriptedPlugin, scripts } from './test-plugins.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  scripts.clear();
});

async function setup(instances: unknown[], env: Record<string, string> = {}, sink = new MemorySink()) {
  const db: Db = await openTestDb(cheapBackend());
  cleanup.push(() => db.close());
  const runner = await startRunner({
    db,
    sink,
    plugins: [counterPlugin, scriptedPlugin],
    env: { PLUGIN_INSTANCES: JSON.stringify(instances), ...env },
  });
  cleanup.push(() => runner.stop());
  const runs: RunInfo[] = [];
  runner.handle.runner.onRun((info) => runs.push(info));
  return { runner, sink, runs, db };
}

async function detail(r: TestRunner, id: string) {
  return (await r.request('GET', `/v1/instances/${id}`)).body;
}

describe('runner', () => {
  it('a plugin that throws or yields malformed pages fails its run only; other instances keep going', async () => {
    scripts.set('throws', async function* ({ cursor }) {
      if (cursor === undefined)
        yield { events: [{ id: 'a', timestamp: Date.now(), message: 'first page is fine' }], cursor: 1 };
      throw new Error('upstream parser exploded');
    });
    scripts.set('malformed', async function* () {
      yield { events: [{ id: 'x', timestamp: 'not a time', message: 'bad' }], cursor: 1 };
    });
    const { runner, sink, runs } = await setup([
      { id: 'throws', plugin: 'scripted', schedule: '1h' },
      { id: 'malformed', plugin: 'scripted', schedule: '1h' },
      { id: 'good', plugin: 'counter', schedule: '1h', config: { total: 20, pageSize: 7 } },
    ]);
    const first = (id: string) => runs.find((r) => r.instanceId === id);
    await waitFor('a run of each', () => first('good') && first('throws') && first('malformed'));
    const byId = { good: first('good'), throws: first('throws'), malformed: first('malformed') };
    expect(byId.good).toMatchObject({ outcome: 'success', pages: 3, events: 20 });
    expect(byId.throws).toMatchObject({
      outcome: 'failed',
      pages: 1,
      events: 1,
      error: { kind: 'plugin', message: 'upstream parser exploded' },
    });
    expect(byId.malformed).toMatchObject({ outcome: 'failed', pages: 0, error: { kind: 'malformed_page' } });
    expect(byId.malformed!.error!.message).toMatch(/timestamp/);
    // The first page of 'throws' was committed before the failure; 'malformed' delivered nothing
    expect(sink.ids().filter((id) => !id.startsWith('good:'))).toEqual(['throws:a']);
    expect(sink.ids().filter((id) => id.startsWith('good:'))).toHaveLength(20);
    const throws = await detail(runner, 'throws');
    expect(throws.status.cursor).toBe(1);
    expect(throws.status.errors[0]).toMatchObject({ kind: 'plugin', message: 'upstream parser exploded' });
    expect(throws.status.circuit.state).toBe('closed');
    expect(throws.status.circuit.consecutive_failures).toBeGreaterThanOrEqual(1);
    await runner.handle.runner.refreshSnapshot();
    const metrics = (await runner.service.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /plugin_runner_errors_total\{plugin="scripted",instance="malformed",kind="malformed_page"\} \d+/,
    );
    expect(metrics).toMatch(
      /plugin_runner_runs_total\{plugin="counter",instance="good",outcome="success"\} 1/,
    );
    expect(metrics).toMatch(/plugin_runner_events_produced_total\{plugin="counter",instance="good"\} 20/);
    expect(metrics).toMatch(/plugin_runner_pages_total\{plugin="counter",instance="good"\} 3/);
    expect(metrics).toMatch(
      /plugin_runner_run_duration_seconds_count\{plugin="counter",outcome="success"\} 1/,
    );
    expect(metrics).toMatch(/plugin_runner_cursor_lag_seconds\{plugin="counter",instance="good"\} \d+/);
  });

  it('repeated failures open the circuit: paused, reported in readiness (non-critical) and metrics; a later success closes it', async () => {
    let healthy = false;
    scripts.set('flaky', async function* () {
      if (!healthy) throw new Error('503 forever');
      yield { events: [{ id: 'ok', timestamp: Date.now(), message: 'back' }], cursor: 1 };
    });
    const { runner, runs } = await setup([{ id: 'flaky', plugin: 'scripted', schedule: '50ms' }], {
      PLUGIN_RUNNER_CIRCUIT_THRESHOLD: '3',
      PLUGIN_RUNNER_CIRCUIT_COOLDOWN_MS: '1000',
    });
    await waitFor('three failures', () => runs.filter((r) => r.outcome === 'failed').length >= 3);
    const opened = Date.now();
    await sleep(300);
    // Paused: no fourth attempt during the cooldown
    expect(runs.filter((r) => r.outcome === 'failed')).toHaveLength(3);
    const d = await detail(runner, 'flaky');
    expect(d.status.circuit.state).toBe('open');
    const ready = await runner.service.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    const check = ready.json().checks['plugin-runner:circuits'];
    expect(check).toMatchObject({ status: 'fail', critical: false });
    expect(check.error).toMatch(/flaky \(3 failures, until/);
    await runner.handle.runner.refreshSnapshot();
    expect((await runner.service.app.inject({ url: '/metrics' })).body).toMatch(
      /plugin_runner_circuit_open\{plugin="scripted",instance="flaky"\} 1/,
    );
    healthy = true;
    await waitFor('half-open trial succeeds', () => runs.some((r) => r.outcome === 'success'), 5000);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
    const after = await detail(runner, 'flaky');
    expect(after.status.circuit).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    const readyAgain = (await runner.service.app.inject({ url: '/health/ready' })).json();
    expect(readyAgain.checks['plugin-runner:circuits'].status).toBe('pass');
  });

  it('produce failure: the cursor stays, the page is replayed on the next run', async () => {
    const sink = new MemorySink();
    sink.failNext = 1;
    const { runner, runs } = await setup(
      [{ id: 'c', plugin: 'counter', schedule: '50ms', config: { total: 6, pageSize: 3 } }],
      {},
      sink,
    );
    await waitFor('delivered', () => runs.some((r) => r.outcome === 'success' && r.events > 0));
    expect(runs[0]).toMatchObject({ outcome: 'failed', pages: 0, error: { kind: 'produce' } });
    expect(sink.ids()).toEqual(['c:item-0', 'c:item-1', 'c:item-2', 'c:item-3', 'c:item-4', 'c:item-5']);
    expect((await detail(runner, 'c')).status.cursor).toBe(6);
  });

  it('pausing by flag: plugin-wide and per instance, defined with default on', async () => {
    const { runner, sink } = await setup(
      [
        { id: 'p1', plugin: 'counter', schedule: '50ms', config: { total: 1000, pageSize: 1 } },
        { id: 'p2', plugin: 'counter', schedule: '50ms', config: { total: 1000, pageSize: 1 } },
      ],
      { PLUGIN_RUNNER_MAX_PAGES_PER_RUN: '2' },
    );
    const flags = runner.service.flags;
    expect(flags.get('plugins.counter.enabled')).toMatchObject({ value: 10000, defaultValue: 10000 });
    await waitFor(
      'both run',
      () => sink.ids().some((k) => k.startsWith('p1:')) && sink.ids().some((k) => k.startsWith('p2:')),
    );
    expect(flags.get('plugins.instance.p1.enabled')).toMatchObject({ value: 10000 });
    await flags.set('plugins.instance.p1.enabled', false, { by: 'test' });
    await sleep(200);
    const p1 = sink.ids().filter((k) => k.startsWith('p1:')).length;
    await sleep(300);
    expect(sink.ids().filter((k) => k.startsWith('p1:')).length).toBe(p1);
    expect((await detail(runner, 'p1')).status.paused_by_flag).toBe(true);
    expect((await runner.request('POST', '/v1/instances/p1/run')).body.code).toBe('instance_paused');
    await flags.set('plugins.counter.enabled', false, { by: 'test' });
    await sleep(200);
    const p2 = sink.ids().filter((k) => k.startsWith('p2:')).length;
    await sleep(300);
    expect(sink.ids().filter((k) => k.startsWith('p2:')).length).toBe(p2);
    await flags.set('plugins.counter.enabled', true, { by: 'test' });
    await flags.set('plugins.instance.p1.enabled', true, { by: 'test' });
    await waitFor('p1 resumes', () => sink.ids().filter((k) => k.startsWith('p1:')).length > p1);
    // Every item once, in order, across pauses
    const delivered = sink.ids().filter((k) => k.startsWith('p1:'));
    expect(delivered).toEqual(delivered.map((_, i) => `p1:item-${i}`));
  });

  it('paused instances do not crowd out the others', async () => {
    const paused = Array.from({ length: 6 }, (_, i) => ({
      id: `off-${i}`,
      plugin: 'counter',
      schedule: '1h',
      config: { total: 1 },
    }));
    const overrides = Object.fromEntries(paused.map((p) => [`plugins.instance.${p.id}.enabled`, 0]));
    const { sink } = await setup(
      [...paused, { id: 'on', plugin: 'counter', schedule: '1h', config: { total: 1 } }],
      {
        PLUGIN_RUNNER_MAX_CONCURRENT_RUNS: '1',
        FLAGS_OVERRIDES: JSON.stringify(overrides),
      },
    );
    await waitFor('the instance that is on runs', () => sink.ids().includes('on:item-0'));
    await sleep(200);
    expect(sink.ids()).toEqual(['on:item-0']);
  });

  it('rate limited runs stop without counting as failures and resume after the reset', async () => {
    let limited = true;
    scripts.set('rl', async function* ({ cursor }) {
      const at = (cursor as number | undefined) ?? 0;
      yield { events: [{ id: `e${at}`, timestamp: Date.now(), message: 'x' }], cursor: at + 1 };
      if (limited) {
        limited = false;
        throw new RateLimitedError(Date.now() + 700, 'http://upstream/x');
      }
    });
    const { runner, runs } = await setup([{ id: 'rl', plugin: 'scripted', schedule: '20ms' }]);
    await waitFor('first run', () => runs.length >= 1);
    expect(runs[0]).toMatchObject({ outcome: 'rate_limited', pages: 1, error: { kind: 'rate_limited' } });
    const d = await detail(runner, 'rl');
    expect(d.status.circuit.consecutive_failures).toBe(0);
    expect(new Date(d.status.next_run_at).getTime()).toBeGreaterThan(Date.now() + 300);
    await waitFor('second run', () => runs.length >= 2, 5000);
    expect(runs[1]!.startedAt - runs[0]!.finishedAt).toBeGreaterThanOrEqual(550);
    expect(runs[1]!.cursorBefore).toBe(1);
  });

  it('a backlog larger than maxPagesPerRun continues in the next run at once', async () => {
    const { runs, sink } = await setup(
      [{ id: 'big', plugin: 'counter', schedule: '1h', config: { total: 10, pageSize: 1 } }],
      {
        PLUGIN_RUNNER_MAX_PAGES_PER_RUN: '4',
      },
    );
    await waitFor('all delivered', () => sink.messages.length >= 10 && runs.length >= 3);
    expect(runs.slice(0, 3).map((r) => [r.pages, r.more])).toEqual([
      [4, true],
      [4, true],
      [2, false],
    ]);
  });

  it('shutdown mid-run: the page in hand is committed, the lease released and the instance due at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    scripts.set('slow', async function* ({ signal }) {
      yield { events: [{ id: 'a', timestamp: Date.now(), message: 'a' }], cursor: 1 };
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        void gate.then(resolve);
      });
      yield { events: [{ id: 'b', timestamp: Date.now(), message: 'b' }], cursor: 2 };
    });
    const { runner, runs, db } = await setup([{ id: 'slow', plugin: 'scripted', schedule: '1h' }]);
    await waitFor('running', () => runner.handle.runner.running().length === 1);
    await sleep(100);
    await runner.stop();
    release();
    expect(runs[0]).toMatchObject({ outcome: 'aborted', pages: 1 });
    const [row] = await db.query(
      'SELECT cursor, lease_holder, next_run_at <= now() AS due FROM plugin_state WHERE instance_id = $1',
      ['slow'],
    );
    expect(row).toMatchObject({ cursor: 1, lease_holder: null, due: true });
  });

  it('a run longer than maxRunMs is aborted as a timeout', async () => {
    scripts.set('stuck', async function* () {
      await new Promise(() => {});
      yield { events: [], cursor: 1 };
    });
    const { runs } = await setup([{ id: 'stuck', plugin: 'scripted', schedule: '1h' }], {
      PLUGIN_RUNNER_MAX_RUN_MS: '300',
    });
    await waitFor('timed out', () => runs.length >= 1);
    expect(runs[0]).toMatchObject({ outcome: 'failed', error: { kind: 'timeout' } });
  });

  it('invalid instance config from a config file fails the start, listing every problem', async () => {
    const db = await openTestDb(cheapBackend());
    cleanup.push(() => db.close());
    const err = await startRunner({
      db,
      sink: new MemorySink(),
      plugins: [counterPlugin],
      env: {
        PLUGIN_INSTANCES: JSON.stringify([
          { id: 'c', plugin: 'counter', schedule: '1h', config: { total: -1, colour: 1 } },
        ]),
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toContain("runner.instances 'c'/config/total: must be >= 0");
    expect((err as Error).message).toContain("runner.instances 'c'/config/colour: is not allowed");
  });
});
