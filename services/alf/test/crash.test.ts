// ALF killed at any moment loses nothing: ALF runs in child processes (src/main.ts, the real entry
// point), is SIGKILLed mid-flight, restarted, stopped with SIGTERM mid-flight (it must drain and
// commit), and restarted again to finish. Committed offsets are watched the whole time: a
// committed offset must never be ahead of what HEC has accepted.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type HecReceiver, type KafkaBroker, startHecReceiver, startKafkaBroker } from '@fleet/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { alfTestEnv, committed, eventIdOf, produceSpread, record, TOKEN, waitFor } from './helpers.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

let broker: KafkaBroker;
let hec: HecReceiver;
beforeAll(async () => {
  broker = await startKafkaBroker();
  hec = await startHecReceiver({ token: TOKEN, eventId: eventIdOf });
});
afterAll(async () => {
  await hec?.close();
  await broker?.close();
});

function spawnAlf(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: packageDir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const PARTITIONS = 3;
const PER_PARTITION = 1500;

it('SIGKILL loses nothing, SIGTERM drains and commits, a restart finishes the rest', async () => {
  const topic = 'crash-logs';
  const group = 'crash-alf';
  broker.createTopic(topic, { partitions: PARTITIONS });
  broker.createTopic(`${topic}.dlq`, { partitions: 1 });
  const ids = produceSpread(broker, topic, PARTITIONS, PER_PARTITION, (id, p) => record(id, `svc-${p}`));
  const env = alfTestEnv(broker, hec.url, {
    ALF_TOPICS: topic,
    ALF_GROUP_ID: group,
    ALF_DLQ_TOPIC: `${topic}.dlq`,
    HEC_BATCH_MAX_EVENTS: '100',
    // Little in flight, so that a SIGTERM leaves records for the next run
    ALF_CONSUMER_BATCH: '50',
    ALF_CONSUMER_CONCURRENCY: '2',
    KAFKA_SESSION_TIMEOUT_MS: '1000',
    KAFKA_REBALANCE_TIMEOUT_MS: '1000',
    KAFKA_DRAIN_TIMEOUT_MS: '10000',
    SHUTDOWN_TIMEOUT_MS: '20000',
  });
  // Every answer comes late: a kill always finds batches accepted but not yet answered
  hec.faults.delay(25, { phase: 'after-accept' });

  // The invariant, checked every few ms: offset o of partition p committed ⇒ event p-o accepted
  let violations: string[] = [];
  const watcher = setInterval(() => {
    for (const [p, offset] of Object.entries(committed(broker, group, topic))) {
      for (let o = 0; o < offset; o++) {
        if (!hec.idCounts.has(`e${p}-${o}`)) {
          violations.push(`partition ${p} committed ${offset} but event ${o} was never accepted`);
          break;
        }
      }
    }
  }, 5);

  try {
    // 1. SIGKILL mid-flight
    const a = spawnAlf(env);
    await waitFor('a third of the events', () => hec.idCounts.size >= ids.length / 3, 60_000);
    a.kill('SIGKILL');
    await once(a, 'exit');
    const afterKill = committed(broker, group, topic);
    const committedCount = Object.values(afterKill).reduce((x, y) => x + y, 0);
    expect(committedCount).toBeLessThan(ids.length);

    // 2. SIGTERM mid-flight: everything sent must be drained and committed before exit
    const sentByB = new Set<string>();
    const bStartedAt = Date.now();
    const b = spawnAlf(env);
    await waitFor('b to deliver', () => hec.events.some((e) => e.receivedAt > bStartedAt), 60_000);
    await waitFor('b to be busy', () => hec.idCounts.size >= (ids.length * 2) / 3, 60_000);
    b.kill('SIGTERM');
    const [code] = await once(b, 'exit');
    expect(code).toBe(0);
    for (const e of hec.events) if (e.receivedAt >= bStartedAt) sentByB.add(eventIdOf(e)!);
    const afterTerm = committed(broker, group, topic);
    const undrained = [...sentByB].filter((id) => {
      const [p, o] = id.slice(1).split('-').map(Number) as [number, number];
      return o >= (afterTerm[p] ?? 0);
    });
    expect(undrained).toEqual([]);
    expect(Object.values(afterTerm).reduce((x, y) => x + y, 0)).toBeLessThan(ids.length);

    // 3. A restart finishes the rest
    const c = spawnAlf(env);
    await waitFor('every event at least once', () => ids.every((id) => hec.idCounts.has(id)), 60_000);
    await waitFor('all committed', () => {
      const done = committed(broker, group, topic);
      return Array.from({ length: PARTITIONS }, (_, p) => done[p] === PER_PARTITION).every(Boolean);
    });
    c.kill('SIGTERM');
    expect((await once(c, 'exit'))[0]).toBe(0);
  } finally {
    clearInterval(watcher);
  }
  expect(violations).toEqual([]);
  violations = [];
  const duplicates = hec.duplicateIds().length;
  console.log(
    `\nALF crash test: ${ids.length} events, ${hec.acceptedCount} accepted by HEC, ${duplicates} duplicates (resent after the SIGKILL), 0 lost`,
  );
  expect(hec.idCounts.size).toBe(ids.length);
}, 110_000);
