/**
 * Throughput benchmark of the HEC receiver: gzip batches of ~1 KB events.
 *
 *   npx tsx packages/testkit/src/hec/bench.ts [--seconds 5] [--batch 500] [--concurrency 4]
 *
 * 1. parse-only: gunzip + split + JSON.parse + validate in this process (no HTTP).
 * 2. end-to-end: the receiver in this process, the HTTP load from a child process. Reports wall
 *    events/s and events per CPU-second of the receiver process (user + system), i.e. what one
 *    core of receiver can take. CPU time holds up on a busy machine; wall time does not.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { nextObject, validateEventObject } from './parse.js';
import { startHecReceiver } from './receiver.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    client: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const batchSize = Number(values.batch);
const concurrency = Number(values.concurrency);
const TOKEN = '00000000-0000-0000-0000-00000000beef';

/** One ~1 KB HEC event: realistic metadata, a JSON payload with some incompressible text. */
function makeEvent(id: number): string {
  const words = randomBytes(300).toString('base64');
  return JSON.stringify({
    time: 1_700_000_000 + id / 1000,
    host: 'app-7f9c',
    source: 'alf:orders',
    sourcetype: '_json',
    index: 'main',
    fields: { topic: 'orders', partition: String(id % 12), offset: String(id) },
    event: {
      id: `evt-${id}`,
      level: 'INFO',
      logger: 'com.example.orders.OrderService',
      thread: 'kafka-consumer-3',
      message: `order ${id} processed {"nested":"braces"} ${words}`,
      context: { customer: `c-${id % 997}`, amount: (id % 1000) * 1.25, items: ['a', 'b', 'c'] },
      padding: 'x'.repeat(200),
    },
  });
}

function makeBodies(): { bodies: Buffer[]; texts: string[] } {
  const bodies: Buffer[] = [];
  const texts: string[] = [];
  for (let b = 0; b < 16; b++) {
    const lines: string[] = [];
    for (let i = 0; i < batchSize; i++) lines.push(makeEvent(b * batchSize + i));
    const text = lines.join('\n');
    texts.push(text);
    bodies.push(gzipSync(text));
  }
  return { bodies, texts };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');

/** Load generator (child process): POSTs the batches with keep-alive for `seconds`. */
async function runClient(url: string): Promise<void> {
  const { bodies } = makeBodies();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + seconds * 1000;
  let requests = 0;
  let failures = 0;
  let n = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const body = bodies[n++ % bodies.length] as Buffer;
      const req = request(
        `${url}/services/collector/event`,
        {
          method: 'POST',
          agent,
          headers: {
            Authorization: `Splunk ${TOKEN}`,
            'Content-Encoding': 'gzip',
            'Content-Length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            requests++;
            if (res.statusCode !== 200) failures++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failures++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  agent.destroy();
  process.send?.({ requests, failures });
}

async function main(): Promise<void> {
  const { bodies, texts } = makeBodies();
  const avgEvent = Math.round(texts.reduce((s, t) => s + t.length, 0) / texts.length / batchSize);
  const avgRaw = texts.reduce((s, t) => s + t.length, 0) / texts.length;
  const avgGz = bodies.reduce((s, b) => s + b.length, 0) / bodies.length;
  console.log(
    `batches of ${batchSize} events of ~${avgEvent} B: ${Math.round(avgRaw / 1024)} KiB raw, ${Math.round(avgGz / 1024)} KiB gzip`,
  );

  // 1. parse-only
  {
    const allow = () => true;
    let events = 0;
    const c0 = process.cpuUsage();
    const t0 = Date.now();
    while (Date.now() - t0 < Math.min(seconds, 3) * 1000) {
      for (const body of bodies) {
        const text = gunzipSync(body, { chunkSize: 1 << 20 }).toString('utf8');
        let pos = 0;
        for (;;) {
          const step = nextObject(text, pos);
          if (step.kind !== 'object') break;
          if (validateEventObject(step.value, allow) !== 0) throw new Error('invalid event');
          events++;
          pos = step.next;
        }
      }
    }
    console.log(`parse-only: ${fmt(events / cpuSeconds(c0))} events per CPU-second`);
  }

  // 2. end-to-end
  const receiver = await startHecReceiver({
    token: TOKEN,
    keepEvents: false,
    eventId: (e) => (e.event as { id: string }).id,
  });
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  const child = fork(fileURLToPath(import.meta.url), ['--client', receiver.url, ...process.argv.slice(2)], {
    execArgv: process.execArgv,
  });
  const result = await new Promise<{ requests: number; failures: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { requests: number; failures: number }));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
    });
  });
  const wall = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(c0);
  const accepted = receiver.acceptedCount;
  console.log(
    `end-to-end: ${result.requests} requests (${result.failures} failed), ${fmt(accepted)} events in ${wall.toFixed(1)} s wall`,
  );
  console.log(`  wall: ${fmt(accepted / wall)} events/s (load generator on the other core)`);
  console.log(`  receiver: ${cpu.toFixed(2)} CPU-s → ${fmt(accepted / cpu)} events per CPU-second`);
  await receiver.close();
}

if (values.client) await runClient(values.client);
else await main();
