// Several runner replicas (in this process) on one database: every instance runs, never on two
// replicas at once, every event reaches the Kafka topic once; a replica stalled between producing a
// page and committing its cursor is fenced off.

import type { Db } from '@fleet/chassis/db';
import { kafkaTestEnv } from '@fleet/chassis/testing';
import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../src/runner.js';
import {
  backends,
  MemorySink,
  openTestDb,
  startRunner,
  type TestRunner,
  uniqueSchema,
  waitFor,
} from './helpers.js';
import { RunLog, recordingPlugin, scriptedPlugin, scripts } from './test-plugins.js';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker({ defaultPartitions: 3 });
});
afterAll(() => broker.close());

/** A database handle whose queries can be held (a stalled or partitioned replica). */
function pausable(db: Db) {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const wrapped: Db = {
    ...db,
    async query(sql, params) {
      while (gate) await gate;
      return db.query(sql, params);
    },
    close: async () => {},
  };
  return {
    db: wrapped,
    pause() {
      gate ??= new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    resume() {
      gate = undefined;
      open?.();
    },
  };
}

async function replicaDbs(backend: 'pglite' | 'postgres', n: number): Promise<Db[]> {
  if (backend === 'pglite') {
    const shared = await openTestDb('pglite');
    return Array.from({ length: n }, () => shared);
  }
  const schema = uniqueSchema();
  const dbs: Db[] = [];
  for (let i = 0; i < n; i++) dbs.push(await openTestDb('postgres', schema));
  return dbs;
}

describe.each(backends())('replicas on %s', (backend) => {
  it.each([2, 3])(
    '%i replicas: every instance runs, none twice at once, every event once on the topic',
    async (n) => {
      const topic = `plugin-events-${backend}-${n}`;
      const dbs = await replicaDbs(backend, n);
      const log = new RunLog();
      const instances = Array.from({ length: 6 }, (_, i) => ({
        id: `inst-${i}`,
        plugin: 'recording',
        schedule: '40ms',
        config: { total: 40, pageSize: 2, delayMs: 3 },
      }));
      const replicas: TestRunner[] = [];
      const runs: RunInfo[] = [];
      try {
        for (let i = 0; i < n; i++) {
          const replica = await startRunner({
            db: dbs[i]!,
            plugins: [recordingPlugin(`r${i}`, log)],
            env: {
              ...kafkaTestEnv(broker.brokers),
              PLUGIN_RUNNER_TOPIC: topic,
              PLUGIN_RUNNER_REPLICA_ID: `r${i}`,
              PLUGIN_RUNNER_MAX_PAGES_PER_RUN: '4',
              PLUGIN_RUNNER_MAX_CONCURRENT_RUNS: '2',
              PLUGIN_INSTANCES: JSON.stringify(instances),
            },
          });
          replica.handle.runner.onRun((info) => runs.push(info));
          replicas.push(replica);
        }
        const expected = instances.flatMap((inst) =>
          Array.from({ length: 40 }, (_, k) => `${inst.id}:item-${k}`),
        );
        await waitFor(
          'every item on the topic',
          () => broker.records(topic).length >= expected.length,
          60_000,
          50,
        );
        await waitFor('every cursor at the end', async () => {
          const rows = await dbs[0]!.query(
            'SELECT count(*)::int AS n FROM plugin_state WHERE cursor = $1::jsonb',
            ['40'],
          );
          return rows[0]!.n === 6;
        });
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
        await Promise.all([...new Set(dbs)].map((db) => db.close()));
      }
      // Every instance ran, on more than one replica in all, never twice at once
      expect(new Set(log.entries.map((e) => e.instance)).size).toBe(6);
      expect(new Set(log.entries.map((e) => e.replica)).size).toBeGreaterThanOrEqual(2);
      expect(log.maxConcurrent).toBe(1);
      expect(log.overlaps()).toEqual([]);
      // The leases agree: fencing tokens per instance strictly increase in run order
      for (const inst of instances) {
        const tokens = runs
          .filter((r) => r.instanceId === inst.id)
          .sort((a, b) => a.startedAt - b.startedAt)
          .map((r) => r.token);
        expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
        expect(new Set(tokens).size).toBe(tokens.length);
      }
      // Runs cut short by the final shutdown are 'aborted'; nothing failed or lost a lease
      expect(runs.filter((r) => r.outcome !== 'success' && r.outcome !== 'aborted')).toEqual([]);
      // Kafka: each event exactly once, keyed and headed by its stable id
      const records = broker.records(topic);
      const keys = records.map((r) => r.key!.toString());
      const expected = instances.flatMap((inst) =>
        Array.from({ length: 40 }, (_, k) => `${inst.id}:item-${k}`),
      );
      expect([...keys].sort()).toEqual([...expected].sort());
      const first = records[0]!;
      const headers = Object.fromEntries(first.headers.map((h) => [h.key, h.value?.toString()]));
      expect(headers['event-id']).toBe(first.key!.toString());
      expect(headers).toMatchObject({ service: 'recording', level: 'info', plugin: 'recording' });
      expect(JSON.parse(first.value!.toString())).toMatchObject({
        id: first.key!.toString(),
        service: 'recording',
        level: 'info',
      });
    },
  );

  it('a replica stalled between producing a page and committing it is fenced off; another resumes from the last commit', async () => {
    const [dbA, dbB] = await replicaDbs(backend, 2);
    const stalled = pausable(dbA!);
    const sink = new MemorySink();
    let stallOnPage = 2;
    const sinkA = {
      async send(topic: string, messages: Parameters<MemorySink['send']>[1]) {
        await sink.send(
          topic,
          messages.map((m) => ({ ...m, headers: { ...m.headers, replica: 'A' } })),
        );
        // A stops right after producing page 2 (a GC pause, a partition): its commit waits
        if (--stallOnPage === 0) stalled.pause();
      },
    };
    const sinkB = {
      send: (topic: string, messages: Parameters<MemorySink['send']>[1]) =>
        sink.send(
          topic,
          messages.map((m) => ({ ...m, headers: { ...m.headers, replica: 'B' } })),
        ),
    };
    scripts.set('fenced', async function* ({ cursor }) {
      for (let page = ((cursor as number | undefined) ?? 0) + 1; page <= 4; page++) {
        await new Promise((r) => setTimeout(r, page === 2 && cursor === undefined ? 500 : 20));
        yield { events: [{ id: `p${page}`, timestamp: Date.now(), message: `page ${page}` }], cursor: page };
      }
    });
    const instance = [{ id: 'fenced', plugin: 'scripted', schedule: '1h' }];
    const common = { PLUGIN_RUNNER_LEASE_TTL_MS: '600', PLUGIN_INSTANCES: JSON.stringify(instance) };
    const runs: RunInfo[] = [];
    const a = await startRunner({
      db: stalled.db,
      sink: sinkA,
      plugins: [scriptedPlugin],
      env: { ...common, PLUGIN_RUNNER_REPLICA_ID: 'A' },
    });
    a.handle.runner.onRun((info) => runs.push(info));
    let b: TestRunner | undefined;
    try {
      await waitFor('A runs the instance', () => a.handle.runner.running().length === 1);
      b = await startRunner({
        db: dbB!,
        sink: sinkB,
        plugins: [scriptedPlugin],
        env: { ...common, PLUGIN_RUNNER_REPLICA_ID: 'B' },
      });
      b.handle.runner.onRun((info) => runs.push(info));
      await waitFor('A stalls after producing page 2', () => stallOnPage === 0);
      const stalledAt = Date.now();
      await waitFor(
        'B finishes',
        () => runs.some((r) => r.replica === 'B' && r.outcome === 'success'),
        10_000,
      );
      const takeover = runs.find((r) => r.replica === 'B')!;
      // B took over within about one TTL and started from A's last committed cursor (page 1)
      expect(takeover.startedAt - stalledAt).toBeLessThan(600 + 1000);
      expect(takeover.cursorBefore).toBe(1);
      // A wakes up: its commit of page 2 is refused (fenced), the cursor stays B's
      stalled.resume();
      await waitFor('A gives up', () => runs.some((r) => r.replica === 'A'), 5000);
      expect(runs.find((r) => r.replica === 'A')).toMatchObject({
        outcome: 'lease_lost',
        pages: 1,
        error: { kind: 'lease_lost' },
      });
      const [row] = await dbB!.query(
        'SELECT cursor, fencing_token FROM plugin_state WHERE instance_id = $1',
        ['fenced'],
      );
      expect(row).toMatchObject({ cursor: 4 });
      expect(Number(row!.fencing_token)).toBe(2);
    } finally {
      stalled.resume();
      await a.stop();
      await b?.stop();
      await dbA!.close();
      if (dbB !== dbA) await dbB!.close();
      scripts.clear();
    }
    // Only the page A produced but could not commit was delivered twice; nothing was lost
    const delivered = sink.messages.map((m) => `${m.key}@${m.headers.replica}`);
    expect(delivered).toEqual(['fenced:p1@A', 'fenced:p2@A', 'fenced:p2@B', 'fenced:p3@B', 'fenced:p4@B']);
  });
});
