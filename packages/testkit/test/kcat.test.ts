// Drives the broker with kcat (librdkafka) as an independent client, when kcat is installed.
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { kafkaClient } from './helpers.js';

function findKcat(): boolean {
  try {
    execFileSync('which', ['kcat'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const hasKcat = findKcat();

function kcat(
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

describe('kcat (librdkafka)', () => {
  let broker: KafkaBroker;
  let bootstrap: string;

  beforeAll(async () => {
    broker = await startKafkaBroker({ topics: { listed: 2 } });
    bootstrap = broker.brokers.join(',');
  });
  afterAll(async () => {
    await broker?.close();
  });

  it.skipIf(!hasKcat)('lists metadata', async () => {
    const res = await kcat(['-b', bootstrap, '-L']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`broker 0 at ${broker.brokers[0]}`);
    expect(res.stdout).toMatch(/topic "listed" with 2 partitions/);
  });

  it.skipIf(!hasKcat)(
    'produces keyed, compressed and idempotent messages that kafkajs-side inspection decodes',
    async () => {
      const plain = await kcat(
        ['-b', bootstrap, '-P', '-t', 'kcat-in', '-K:', '-z', 'gzip'],
        'k1:hello\nk2:world\n',
      );
      expect(plain.code).toBe(0);
      const idem = await kcat(
        ['-b', bootstrap, '-P', '-t', 'kcat-in', '-X', 'enable.idempotence=true'],
        'i1\ni2\n',
      );
      expect(idem.code).toBe(0);
      expect(
        broker.records('kcat-in').map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString()]),
      ).toEqual([
        [0, 'k1', 'hello'],
        [1, 'k2', 'world'],
        [2, null, 'i1'],
        [3, null, 'i2'],
      ]);
    },
  );

  it.skipIf(!hasKcat)('consumes what kafkajs produced, with a simple and a group consumer', async () => {
    const producer = kafkaClient(broker.brokers).producer();
    await producer.connect();
    await producer.send({
      topic: 'kcat-out',
      messages: ['a', 'b', 'c'].map((value) => ({ key: `k-${value}`, value })),
    });
    await producer.disconnect();

    const simple = await kcat([
      '-b',
      bootstrap,
      '-C',
      '-t',
      'kcat-out',
      '-o',
      'beginning',
      '-e',
      '-f',
      '%k=%s@%o\n',
    ]);
    expect(simple.code).toBe(0);
    expect(simple.stdout.trim().split('\n')).toEqual(['k-a=a@0', 'k-b=b@1', 'k-c=c@2']);

    const group = await kcat([
      '-b',
      bootstrap,
      '-G',
      'kcat-group',
      '-e',
      '-f',
      '%s\n',
      '-X',
      'auto.offset.reset=earliest',
      'kcat-out',
    ]);
    expect(group.code).toBe(0);
    expect(group.stdout.trim().split('\n')).toEqual(['a', 'b', 'c']);
    expect(broker.committedOffsets('kcat-group')).toEqual({ 'kcat-out': { 0: 3 } });
  });
});
