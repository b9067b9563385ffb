import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTestEnv, waitFor } from './test-helpers.js';

const childScript = fileURLToPath(new URL('./test-crash-child.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

interface Line {
  e: string;
  p?: number;
  o?: number;
}

interface Child {
  process: ChildProcess;
  lines: Line[];
  /** Resolves once stdout has closed (every line read). */
  closed: Promise<void>;
}

function spawnConsumer(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], {
    cwd: packageDir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Line[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const part of parts) if (part) lines.push(JSON.parse(part) as Line);
  });
  const closed = once(child.stdout!, 'close').then(() => {});
  return { process: child, lines, closed };
}

const key = (l: Line) => `${l.p}:${l.o}`;

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
});
afterAll(async () => {
  await broker.close();
});

describe('crash safety', () => {
  it('a consumer killed mid-batch loses nothing; commits never skip an unfinished message', async () => {
    const topic = 'crash-orders';
    const group = 'crash-group';
    const partitions = 3;
    const perPartition = 150;
    broker.createTopic(topic, { partitions });
    for (let p = 0; p < partitions; p++) {
      broker.produce(
        topic,
        Array.from({ length: perPartition }, (_, i) => ({ value: `${p}-${i}` })),
        { partition: p },
      );
    }
    const env = {
      ...kafkaTestEnv(broker, {
        KAFKA_SESSION_TIMEOUT_MS: '1000',
        KAFKA_REBALANCE_TIMEOUT_MS: '1000',
        KAFKA_COMMIT_INTERVAL_MS: '20',
      }),
      TOPIC: topic,
      GROUP: group,
    };

    // First consumer: watch the committed offsets while it works, then SIGKILL it mid-flight
    const first = spawnConsumer({ ...env, STRAGGLER: '0:60' });
    const snapshots: Array<Record<number, number>> = [];
    const watcher = setInterval(() => snapshots.push({ ...broker.committedOffsets(group)[topic] }), 2);
    const doneLines = () => first.lines.filter((l) => l.e === 'done');
    await waitFor(
      'first consumer to finish 150 messages, and messages after the straggler',
      () => doneLines().length >= 150 && doneLines().some((l) => l.p === 0 && l.o! > 60),
      20_000,
    );
    first.process.kill('SIGKILL');
    await once(first.process, 'exit');
    clearInterval(watcher);
    const committedAtKill = { ...broker.committedOffsets(group)[topic] };
    snapshots.push(committedAtKill);
    await first.closed;

    const started1 = new Set(first.lines.filter((l) => l.e === 'start').map(key));
    const done1 = new Set(first.lines.filter((l) => l.e === 'done').map(key));
    // Killed mid-batch: handlers were running (the straggler at least), and messages remained
    expect(started1.has('0:60')).toBe(true);
    expect(done1.has('0:60')).toBe(false);
    expect(done1.size).toBeLessThan(partitions * perPartition);
    // Later messages of the straggler's partition finished, yet the commit never passed it
    expect([...done1].some((k) => k.startsWith('0:') && Number(k.slice(2)) > 60)).toBe(true);
    expect(committedAtKill[0] ?? 0).toBeLessThanOrEqual(60);
    // Every committed offset seen at any time covers finished messages only
    for (const snapshot of snapshots) {
      for (const [p, committed] of Object.entries(snapshot)) {
        for (let o = 0; o < committed; o++) {
          if (!done1.has(`${p}:${o}`))
            throw new Error(`offset ${p}:${o} committed (${committed}) but never finished`);
        }
      }
    }
    expect(Object.values(committedAtKill).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // Second consumer in the same group: picks up from the commits and finishes the rest
    const second = spawnConsumer(env);
    const everyDone = () => new Set([...done1, ...second.lines.filter((l) => l.e === 'done').map(key)]);
    await waitFor(
      'every message processed at least once',
      () => everyDone().size === partitions * perPartition,
      30_000,
    );
    second.process.kill('SIGTERM');
    const [code] = await once(second.process, 'exit');
    await second.closed;
    expect(code).toBe(0);
    expect(second.lines.at(-1)).toEqual({ e: 'stopped' });
    // Graceful stop committed everything
    expect(broker.committedOffsets(group)[topic]).toEqual({
      0: perPartition,
      1: perPartition,
      2: perPartition,
    });
    // Redelivery starts at the commit: the second consumer never saw what was committed before
    for (const l of second.lines.filter((x) => x.e === 'start')) {
      expect(l.o!).toBeGreaterThanOrEqual(committedAtKill[l.p!] ?? 0);
    }
  }, 60_000);
});
