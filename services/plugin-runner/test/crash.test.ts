// Replicas as separate processes on real Postgres: kill -9 the one running an instance mid-run;
// another resumes from the last committed cursor within the lease TTL; Kafka gets every event,
// twice at most for the one page that was in flight.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '@fleet/chassis/db';
import { kafkaTestEnv } from '@fleet/chassis/testing';
import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type FakeServer,
  json,
  openTestDb,
  postgresUrl,
  sleep,
  startFakeServer,
  uniqueSchema,
  waitFor,
} from './helpers.js';

const childScript = fileURLToPath(new URL('./replica-child.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const pgUrl = postgresUrl();

interface Child {
  name: string;
  process: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<unknown>;
}

function spawnReplica(name: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], {
    cwd: packageDir,
    env: { PATH: process.env.PATH, ...env, PLUGIN_RUNNER_REPLICA_ID: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const part of parts)
      if (part.startsWith('{')) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  return { name, process: child, lines, exited: once(child, 'exit') };
}

const TOTAL = 90;
const PAGE = 3;
const TTL = 1500;

let broker: KafkaBroker;
let upstream: FakeServer;
beforeAll(async () => {
  broker = await startKafkaBroker({ defaultPartitions: 2 });
  // The upstream: TOTAL items, PAGE per request, each answer after 40 ms
  upstream = await startFakeServer(async (req, res) => {
    const after = Number(req.url.searchParams.get('after') ?? 0);
    await sleep(40);
    const items = [];
    for (let i = after; i < Math.min(TOTAL, after + PAGE); i++)
      items.push({ id: `item-${i}`, at: 1_700_000_000_000 + i });
    json(res, 200, { items, next: items.length ? after + items.length : null });
  });
});
afterAll(async () => {
  await upstream?.close();
  await broker?.close();
});

describe.skipIf(!pgUrl)('crash of a replica (child processes, real Postgres)', () => {
  it('kill -9 mid-run: another replica resumes from the last committed cursor within the TTL; nothing lost', async () => {
    const schema = uniqueSchema();
    const db: Db = await openTestDb('postgres', schema);
    const topic = 'crash-events';
    const env = {
      ...kafkaTestEnv(broker.brokers),
      LOG_LEVEL: 'silent',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: pgUrl,
      DATABASE_SCHEMA: schema,
      PLUGIN_RUNNER_TOPIC: topic,
      PLUGIN_RUNNER_TICK_MS: '50',
      PLUGIN_RUNNER_LEASE_TTL_MS: String(TTL),
      PLUGIN_RUNNER_MIN_INTERVAL_MS: '10',
      PLUGIN_RUNNER_MAX_PAGES_PER_RUN: '1000',
      PLUGIN_INSTANCES: JSON.stringify([
        { id: 'crashy', plugin: 'upstream', schedule: '100ms', config: { url: `${upstream.url}/items` } },
      ]),
    };
    const children = ['A', 'B', 'C'].map((name) => spawnReplica(name, env));
    try {
      await waitFor(
        'replicas ready',
        () => children.every((c) => c.lines.some((l) => l.e === 'ready')),
        30_000,
        50,
      );
      // Whoever holds the lease is polling the upstream: let it get a few pages in, then kill it
      await waitFor('a few pages fetched', () => upstream.requests.length >= 8, 15_000, 5);
      const victimName = String(upstream.requests[upstream.requests.length - 1]!.headers['x-replica']);
      const victim = children.find((c) => c.name === victimName)!;
      victim.process.kill('SIGKILL');
      await victim.exited;
      const killedAt = Date.now();
      const [row] = await db.query(
        'SELECT cursor, fencing_token, lease_holder FROM plugin_state WHERE instance_id = $1',
        ['crashy'],
      );
      const committed = Number(row!.cursor);
      expect(row!.lease_holder).toBe(victimName);
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(TOTAL);

      // Another replica takes over once the lease expires, starting from the committed cursor
      const takeover = await waitFor(
        'takeover',
        () => upstream.requests.find((r) => r.at > killedAt && r.headers['x-replica'] !== victimName),
        TTL + 5000,
        5,
      );
      expect(Number(takeover.url.searchParams.get('after'))).toBe(committed);
      expect(takeover.at - killedAt).toBeLessThan(TTL + 1000);
      const victimRequests = upstream.requests.filter((r) => r.headers['x-replica'] === victimName);
      // Never two replicas on it at once: the victim's last request came before the survivor's first
      const survivorRequests = upstream.requests.filter((r) => r.headers['x-replica'] !== victimName);
      expect(Math.max(...victimRequests.map((r) => r.at))).toBeLessThan(
        Math.min(...survivorRequests.map((r) => r.at)),
      );

      await waitFor(
        'every item delivered and committed',
        async () => {
          const [state] = await db.query('SELECT cursor FROM plugin_state WHERE instance_id = $1', [
            'crashy',
          ]);
          return Number(state!.cursor) === TOTAL;
        },
        20_000,
        50,
      );
      const keys = broker.records(topic).map((r) => r.key!.toString());
      const counts = new Map<string, number>();
      for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
      // None lost
      for (let i = 0; i < TOTAL; i++)
        expect(counts.get(`crashy:item-${i}`), `item-${i}`).toBeGreaterThanOrEqual(1);
      // Duplicates only from the page in flight at the kill (produced, cursor not yet moved)
      const duplicated = [...counts]
        .filter(([, n]) => n > 1)
        .map(([k]) => Number(k.replace('crashy:item-', '')));
      expect(duplicated.every((i) => i >= committed && i < committed + PAGE)).toBe(true);
      expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
      const [final] = await db.query('SELECT fencing_token FROM plugin_state WHERE instance_id = $1', [
        'crashy',
      ]);
      expect(Number(final!.fencing_token)).toBeGreaterThan(Number(row!.fencing_token));
    } finally {
      for (const child of children)
        if (child.process.exitCode === null && child.process.signalCode === null)
          child.process.kill('SIGTERM');
      await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(10_000)]);
      for (const child of children)
        if (child.process.exitCode === null && child.process.signalCode === null)
          child.process.kill('SIGKILL');
      await db.close();
    }
  }, 60_000);
});

// Two PGlite starts in child processes cost tens of seconds of CPU: this runs when real Postgres is
// not there (so a kill -9 test always runs) or with PLUGIN_RUNNER_SLOW_TESTS=1
describe.skipIf(Boolean(pgUrl) && !process.env.PLUGIN_RUNNER_SLOW_TESTS)(
  'crash of the single node (child process, embedded PGlite on disk)',
  () => {
    it('kill -9 mid-run, restart on the same data directory: resumes from the last committed cursor after the TTL', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'plugin-runner-pglite-'));
      const topic = 'crash-single-node';
      const env = {
        ...kafkaTestEnv(broker.brokers),
        LOG_LEVEL: 'silent',
        PORT: '0',
        HOST: '127.0.0.1',
        PGLITE_DATA_DIR: dataDir,
        PGLITE_TEMPLATE: inject('pgliteTemplate'),
        PLUGIN_RUNNER_TOPIC: topic,
        PLUGIN_RUNNER_TICK_MS: '50',
        PLUGIN_RUNNER_LEASE_TTL_MS: String(TTL),
        PLUGIN_RUNNER_MIN_INTERVAL_MS: '10',
        PLUGIN_RUNNER_MAX_PAGES_PER_RUN: '1000',
        PLUGIN_INSTANCES: JSON.stringify([
          { id: 'solo', plugin: 'upstream', schedule: '100ms', config: { url: `${upstream.url}/solo` } },
        ]),
      };
      const solo = (r: { url: URL }) => r.url.pathname === '/solo';
      let node = spawnReplica('first', env);
      try {
        await waitFor('a few pages fetched', () => upstream.requests.filter(solo).length >= 6, 30_000, 5);
        node.process.kill('SIGKILL');
        await node.exited;
        const killedAt = Date.now();
        const lastBefore = upstream.requests.filter(solo).at(-1)!;
        const cursorInFlight = Number(lastBefore.url.searchParams.get('after'));
        node = spawnReplica('second', env);
        const resumed = await waitFor(
          'resumed',
          () => upstream.requests.find((r) => solo(r) && r.at > killedAt),
          30_000,
          5,
        );
        // The page being fetched at the kill had not been committed: the restart asks for it again
        // (or for the one before it, when the kill fell between produce and commit)
        const from = Number(resumed.url.searchParams.get('after'));
        expect(from).toBeGreaterThan(0);
        expect(from === cursorInFlight || from === cursorInFlight - PAGE).toBe(true);
        // The dead node's lease had to expire first
        expect(resumed.at - killedAt).toBeGreaterThanOrEqual(TTL - 200);
        await waitFor(
          'all delivered',
          () => new Set(broker.records(topic).map((r) => r.key!.toString())).size === TOTAL,
          20_000,
          50,
        );
        const counts = new Map<string, number>();
        for (const r of broker.records(topic))
          counts.set(r.key!.toString(), (counts.get(r.key!.toString()) ?? 0) + 1);
        expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
      } finally {
        if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGTERM');
        await Promise.race([node.exited, sleep(10_000)]);
      }
    }, 90_000);
  },
);
