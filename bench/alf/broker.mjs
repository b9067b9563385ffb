// The Kafka test broker in its own process for the ALF bench (so its CPU is its own), driven over
// IPC by run.mjs: create topics, preload records, produce at a fixed rate, report offsets and CPU.
import { startKafkaBroker } from '@fleet/testkit';
import { makeRecords } from './core.mjs';

const broker = await startKafkaBroker({
  retentionBytesPerPartition: 1024 * 1024 * 1024,
  maxMessageBytes: 16 * 1024 * 1024,
});

const reply = (id, body = {}) => process.send({ id, ...body });
let templates = [];

/** Records with a fresh timestamp (the latency is measured from it). */
function fresh(n, offset) {
  const now = new Date().toISOString();
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = templates[(offset + i) % templates.length];
    out[i] = { value: `{"timestamp":"${now}"${t}` };
  }
  return out;
}

process.on('message', async (m) => {
  switch (m.cmd) {
    case 'create':
      broker.createTopic(m.topic, { partitions: m.partitions });
      return reply(m.id);
    case 'templates': {
      // The records minus their timestamp, which `fresh` fills in at production time
      templates = makeRecords(2000, m.size).map((b) => b.toString().replace(/^\{"timestamp":"[^"]*"/, ''));
      return reply(m.id);
    }
    case 'preload': {
      // `count` records spread over the partitions, produced directly into the log
      const per = Math.ceil(m.count / m.partitions);
      for (let p = 0; p < m.partitions; p++) {
        for (let done = 0; done < per; done += 1000) {
          const n = Math.min(1000, per - done);
          broker.produce(m.topic, fresh(n, done), { partition: p });
        }
      }
      return reply(m.id, { count: per * m.partitions });
    }
    case 'rate': {
      // `perSec` records a second for `seconds`, in 10 ms steps, round-robin over the partitions
      const started = performance.now();
      let produced = 0;
      let p = 0;
      const timer = setInterval(() => {
        const elapsed = (performance.now() - started) / 1000;
        if (elapsed >= m.seconds) {
          clearInterval(timer);
          reply(m.id, { produced });
          return;
        }
        const due = Math.floor(elapsed * m.perSec) - produced;
        if (due <= 0) return;
        // A late timer (a loaded machine) owes many records: at most 1000 per produce call (the
        // test broker encodes a call as one record batch)
        const batch = Math.min(1000, Math.ceil(due / m.partitions));
        while (produced < Math.floor(elapsed * m.perSec)) {
          broker.produce(m.topic, fresh(batch, produced), { partition: p });
          p = (p + 1) % m.partitions;
          produced += batch;
        }
      }, 10);
      return;
    }
    case 'committed':
      return reply(m.id, {
        offsets: broker.committedOffsets(m.group)[m.topic] ?? {},
        hw: broker.highWatermarks(m.topic),
      });
    case 'cpu':
      return reply(m.id, { cpu: process.cpuUsage() });
    case 'close':
      await broker.close();
      reply(m.id);
      process.exit(0);
  }
});

process.send({ ready: true, brokers: broker.brokers });
