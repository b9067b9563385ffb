#!/usr/bin/env node
// Throughput of the @fleet/testkit Kafka test broker driven by the real kafkajs client.
//
//   npm run build -w @fleet/testkit && node bench/kafka-testkit/run.mjs [options]
//
// Produces N records of S bytes in batches via kafkajs producers (acks=-1), then consumes them all
// with a kafkajs consumer group (eachBatch), and prints records/s for each phase on its own line.
//
// kafkajs encodes and decodes records in JavaScript on the calling thread, and that client work
// costs far more CPU than the broker's (which stores and serves batches as opaque bytes). So the
// broker runs in its own process (as a real broker would) and each kafkajs client in its own
// worker thread. The broker's CPU time per phase is reported too, which shows its share of the
// work independently of how loaded the machine is. `--inline` runs the broker on the main thread.
//
// Options:
//   --records N      records to produce and consume (default 200000)
//   --size BYTES     value size (default 1024)
//   --batch N        records per producer.send() (default 500)
//   --keys           give every record a key (costs kafkajs ~25% more CPU per record)
//   --partitions N   topic partitions (default 4)
//   --producers N    producer worker threads (default 2)
//   --consumers N    consumer group members, one worker thread each (default 1)
//   --in-flight N    concurrent send() calls per producer (default 2)
//   --inline         run the broker on the main thread
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const TOPIC = 'bench';

if (process.argv[2] === '--broker-process') {
  await brokerProcess(Number(process.argv[3]));
} else if (isMainThread) {
  await main();
} else if (workerData.role === 'producer') {
  await producerWorker(workerData);
} else {
  await consumerWorker(workerData);
}

function brokerOptions(partitions) {
  return {
    topics: { [TOPIC]: partitions },
    retentionBytesPerPartition: 4 * 1024 * 1024 * 1024,
    maxMessageBytes: 64 * 1024 * 1024,
  };
}

async function brokerProcess(partitions) {
  const { startKafkaBroker } = await import('@fleet/testkit');
  const broker = await startKafkaBroker(brokerOptions(partitions));
  process.send({ brokers: broker.brokers });
  process.on('message', async (msg) => {
    if (msg === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (msg === 'close') {
      await broker.close();
      process.send({ closed: true });
      process.disconnect();
    }
  });
}

async function kafka(brokers) {
  const { Kafka, logLevel } = await import('kafkajs');
  return new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
}

async function producerWorker({ brokers, count, size, batch, inFlight, keys, id }) {
  const producer = (await kafka(brokers)).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(size, 'x');
  const messages = Array.from({ length: batch }, (_, i) => (keys ? { key: `${id}-${i}`, value } : { value }));
  // warm up the connection and the JIT before the clock starts
  for (let i = 0; i < 3; i++)
    await producer.send({ topic: TOPIC, acks: -1, messages: messages.slice(0, 50) });
  parentPort.postMessage({ ready: true });
  await new Promise((resolve) => parentPort.once('message', resolve));
  let left = count;
  async function sender() {
    while (left > 0) {
      const n = Math.min(batch, left);
      left -= n;
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: n === batch ? messages : messages.slice(0, n),
      });
    }
  }
  await Promise.all(Array.from({ length: inFlight }, sender));
  await producer.disconnect();
  parentPort.postMessage({ done: true });
}

async function consumerWorker({ brokers, partitions }) {
  const consumer = (await kafka(brokers)).consumer({
    groupId: 'bench',
    maxBytes: 64 * 1024 * 1024,
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxWaitTimeInMs: 100,
    heartbeatInterval: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  parentPort.on('message', async (msg) => {
    if (msg === 'stop') {
      await consumer.disconnect();
      parentPort.postMessage({ stopped: true });
    }
  });
  await consumer.run({
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch }) => {
      parentPort.postMessage({ consumed: batch.messages.length });
    },
  });
}

/** CPU time of this process (the kafkajs client threads, plus the broker with --inline), µs. */
function clientCpu() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** CPU time per record of the kafkajs clients and of the broker process over a phase. */
function cpuShares(client0, client1, broker0, broker1, secs, records) {
  const perRecord = (us) =>
    `${(us / records).toFixed(1)} µs/record (${(us / 1e4 / secs).toFixed(0)}% of a core)`;
  const client = `; CPU: kafkajs ${perRecord(client1 - client0)}`;
  return broker0 === null ? client : `${client}, broker ${perRecord(broker1 - broker0)}`;
}

function startWorker(data) {
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  worker.on('error', (err) => {
    console.error(`${data.role} worker failed:`, err);
    process.exit(1);
  });
  return worker;
}

function nextMessage(worker, key) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m && typeof m === 'object' && key in m) {
        worker.off('message', onMessage);
        resolve(m);
      }
    };
    worker.on('message', onMessage);
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '200000' },
      size: { type: 'string', default: '1024' },
      batch: { type: 'string', default: '500' },
      keys: { type: 'boolean', default: false },
      partitions: { type: 'string', default: '4' },
      producers: { type: 'string', default: '2' },
      consumers: { type: 'string', default: '1' },
      'in-flight': { type: 'string', default: '2' },
      inline: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.records);
  const size = Number(values.size);
  const batch = Number(values.batch);
  const partitions = Number(values.partitions);
  const producers = Number(values.producers);
  const consumers = Number(values.consumers);
  const inFlight = Number(values['in-flight']);
  if (
    ![total, size, batch, partitions, producers, consumers, inFlight].every(
      (n) => Number.isInteger(n) && n > 0,
    )
  ) {
    throw new Error('numeric options must be positive integers');
  }

  let brokers;
  let closeBroker;
  // CPU time (user + system) used by the broker process so far, in microseconds
  let brokerCpu = async () => null;
  if (values.inline) {
    const { startKafkaBroker } = await import('@fleet/testkit');
    const broker = await startKafkaBroker(brokerOptions(partitions));
    brokers = broker.brokers;
    closeBroker = () => broker.close();
  } else {
    const child = fork(new URL(import.meta.url), ['--broker-process', String(partitions)]);
    child.on('error', (err) => {
      console.error('broker process failed:', err);
      process.exit(1);
    });
    ({ brokers } = await nextMessage(child, 'brokers'));
    brokerCpu = async () => {
      const reply = nextMessage(child, 'cpu');
      child.send('cpu');
      const { cpu } = await reply;
      return cpu.user + cpu.system;
    };
    closeBroker = async () => {
      const closed = nextMessage(child, 'closed');
      child.send('close');
      await closed;
    };
  }

  console.log(
    `kafka-testkit bench: ${total} records x ${size} B, batches of ${batch}, ${partitions} partition(s), ` +
      `${values.keys ? 'keyed, ' : ''}${producers} producer(s) x ${inFlight} in flight, ${consumers} consumer(s), ` +
      `broker ${values.inline ? 'on the main thread' : 'in a separate process'}`,
  );

  // ---- produce
  const per = Math.ceil(total / producers);
  const producerWorkers = Array.from({ length: producers }, (_, id) =>
    startWorker({
      role: 'producer',
      brokers,
      count: Math.min(per, total - id * per),
      size,
      batch,
      inFlight,
      keys: values.keys,
      id,
    }),
  );
  await Promise.all(producerWorkers.map((w) => nextMessage(w, 'ready')));
  const cpu0 = await brokerCpu();
  const client0 = clientCpu();
  const t0 = performance.now();
  const produced = Promise.all(producerWorkers.map((w) => nextMessage(w, 'done')));
  for (const w of producerWorkers) w.postMessage('go');
  await produced;
  const produceSecs = (performance.now() - t0) / 1000;
  const client1 = clientCpu();
  const cpu1 = await brokerCpu();
  await Promise.all(producerWorkers.map((w) => w.terminate()));
  console.log(
    `produce: ${Math.round(total / produceSecs)} records/s (${((total * size) / produceSecs / 1e6).toFixed(1)} MB/s, ${produceSecs.toFixed(2)} s${cpuShares(client0, client1, cpu0, cpu1, produceSecs, total)})`,
  );

  // ---- consume (the 150 warm-up records per producer are consumed too)
  const expected = total + producers * 150;
  let received = 0;
  const cpu2 = await brokerCpu();
  const client2 = clientCpu();
  const t1 = performance.now();
  const consumerWorkers = Array.from({ length: consumers }, () =>
    startWorker({ role: 'consumer', brokers, partitions }),
  );
  await new Promise((resolve) => {
    for (const w of consumerWorkers) {
      w.on('message', (m) => {
        if (m?.consumed) {
          received += m.consumed;
          if (received >= expected) resolve();
        }
      });
    }
  });
  const consumeSecs = (performance.now() - t1) / 1000;
  const client3 = clientCpu();
  const cpu3 = await brokerCpu();
  console.log(
    `consume: ${Math.round(received / consumeSecs)} records/s (${((received * size) / consumeSecs / 1e6).toFixed(1)} MB/s, ${consumeSecs.toFixed(2)} s incl. worker start and group join${cpuShares(client2, client3, cpu2, cpu3, consumeSecs, received)})`,
  );
  await Promise.all(
    consumerWorkers.map(async (w) => {
      const stopped = nextMessage(w, 'stopped');
      w.postMessage('stop');
      await stopped;
      await w.terminate();
    }),
  );
  await closeBroker();
}
