import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaClient } from './helpers.js';

const cli = fileURLToPath(new URL('../src/kafka/cli.ts', import.meta.url));
const children: ChildProcess[] = [];

function run(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, stdout: () => out, stderr: () => err };
}

async function firstLine(get: () => string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!get().includes('\n')) {
    if (Date.now() > deadline) throw new Error('no output from fleet-kafka-dev');
    await new Promise((r) => setTimeout(r, 20));
  }
  return get().split('\n')[0]!;
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('fleet-kafka-dev CLI', () => {
  it('prints the bootstrap addresses, serves clients and stops on SIGTERM', async () => {
    const p = run(['--port', '0', '--brokers', '2', '--partitions', '2', '--topic', 'pre:3']);
    const line = await firstLine(p.stdout);
    const brokers = line.split(',');
    expect(brokers).toHaveLength(2);
    for (const b of brokers) expect(b).toMatch(/^127\.0\.0\.1:\d+$/);

    const kafka = kafkaClient(brokers);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'auto', messages: [{ value: 'x' }] }); // auto-created with --partitions
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(2);
    const meta = await admin.fetchTopicMetadata({ topics: ['pre', 'auto'] });
    expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
      ['auto', 2],
      ['pre', 3],
    ]);
    await admin.disconnect();

    p.child.kill('SIGTERM');
    const [code] = await once(p.child, 'exit');
    expect(code).toBe(0);
    expect(p.stderr()).toContain('SIGTERM');
  });

  it('prints usage with --help and rejects bad arguments', async () => {
    const help = run(['--help']);
    const bad = run(['--brokers', '0']);
    const [[helpCode], [badCode]] = await Promise.all([once(help.child, 'exit'), once(bad.child, 'exit')]);
    expect(helpCode).toBe(0);
    expect(help.stdout()).toContain('Usage: fleet-kafka-dev');
    expect(badCode).toBe(1);
    expect(bad.stderr()).toContain('--brokers must be an integer >= 1');
  });
});
