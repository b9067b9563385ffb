#!/usr/bin/env node
// Ceiling of the @fleet/testkit Kafka test broker itself, without kafkajs: pre-encoded Produce v7
// requests (record batches built once) are pipelined over one socket, then everything is read back
// with Fetch v11. Shows how much headroom the broker leaves; run.mjs measures the kafkajs path.
//
//   npm run build -w @fleet/testkit && node bench/kafka-testkit/raw.mjs [--records N] [--batch N] [--size BYTES]
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { encodeKafkaRecordBatch, startKafkaBroker } from '@fleet/testkit';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    batch: { type: 'string', default: '1000' },
    size: { type: 'string', default: '1024' },
  },
});
const batchSize = Number(values.batch);
const requests = Math.ceil(Number(values.records) / batchSize);
const total = requests * batchSize;
const size = Number(values.size);

const broker = await startKafkaBroker({
  topics: { raw: 1 },
  retentionBytesPerPartition: 4 * 1024 * 1024 * 1024,
  maxMessageBytes: 64 * 1024 * 1024,
});
const [host, port] = broker.brokers[0].split(':');
const value = Buffer.alloc(size, 'x');
const batch = encodeKafkaRecordBatch(Array.from({ length: batchSize }, () => ({ value })));

/** Size-prefixed request: header v1 (client id "raw") + body. */
function frame(apiKey, version, correlationId, body) {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(3, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + 3 + body.length);
  return Buffer.concat([size, header, Buffer.from('raw'), body]);
}

function produceBody() {
  const b = Buffer.alloc(2 + 2 + 4 + 4 + 2 + 3 + 4 + 4 + 4);
  let o = b.writeInt16BE(-1, 0); // transactional id: null
  o = b.writeInt16BE(-1, o); // acks
  o = b.writeInt32BE(30_000, o);
  o = b.writeInt32BE(1, o);
  o = b.writeInt16BE(3, o);
  o += b.write('raw', o);
  o = b.writeInt32BE(1, o);
  o = b.writeInt32BE(0, o); // partition
  b.writeInt32BE(batch.length, o);
  return Buffer.concat([b, batch]);
}

function fetchBody(offset) {
  const b = Buffer.alloc(4 * 4 + 1 + 4 + 4 + 4 + 2 + 3 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 2);
  let o = b.writeInt32BE(-1, 0); // replica
  o = b.writeInt32BE(0, o); // max wait
  o = b.writeInt32BE(1, o); // min bytes
  o = b.writeInt32BE(64 * 1024 * 1024, o); // max bytes
  o = b.writeInt8(0, o); // isolation level
  o = b.writeInt32BE(0, o); // session id
  o = b.writeInt32BE(-1, o); // session epoch
  o = b.writeInt32BE(1, o);
  o = b.writeInt16BE(3, o);
  o += b.write('raw', o);
  o = b.writeInt32BE(1, o);
  o = b.writeInt32BE(0, o); // partition
  o = b.writeInt32BE(-1, o); // current leader epoch
  o = b.writeBigInt64BE(BigInt(offset), o);
  o = b.writeBigInt64BE(-1n, o);
  o = b.writeInt32BE(16 * 1024 * 1024, o); // partition max bytes
  o = b.writeInt32BE(0, o); // forgotten topics
  b.writeInt16BE(0, o); // rack id ""
  return b;
}

function connect() {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.once('error', reject);
    s.connect(Number(port), host, () => {
      s.on('close', () => {
        if (!s.benchDone) {
          console.error('the broker closed the connection');
          process.exit(1);
        }
      });
      resolve(s);
    });
  });
}

/** Calls onFrame(size) for every complete response frame (bodies are skipped, not parsed). */
function onResponses(socket, onFrame) {
  let need = -1;
  let have = 0;
  let head = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    let pos = 0;
    while (pos < chunk.length) {
      if (need < 0) {
        const take = Math.min(4 - head.length, chunk.length - pos);
        head = Buffer.concat([head, chunk.subarray(pos, pos + take)]);
        pos += take;
        if (head.length < 4) return;
        need = head.readInt32BE(0);
        have = 0;
        head = Buffer.alloc(0);
      }
      const take = Math.min(need - have, chunk.length - pos);
      have += take;
      pos += take;
      if (have === need) {
        const size = need;
        need = -1;
        onFrame(size);
      }
    }
  });
}

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const body = produceBody();
const requestFrames = Array.from({ length: requests }, (_, i) => frame(0, 7, i + 1, body));

// ---- produce: keep 8 requests in flight
const producer = await connect();
let acked = 0;
let sent = 0;
const c0 = cpu();
const t0 = performance.now();
await new Promise((resolve) => {
  const pump = () => {
    while (sent < requests && sent - acked < 8) producer.write(requestFrames[sent++]);
  };
  onResponses(producer, () => {
    acked++;
    if (acked === requests) resolve();
    else pump();
  });
  pump();
});
const produceSecs = (performance.now() - t0) / 1000;
const produceCpu = cpu() - c0;
producer.benchDone = true;
producer.destroy();
console.log(
  `raw produce: ${Math.round(total / produceSecs)} records/s (${((total * size) / produceSecs / 1e6).toFixed(0)} MB/s; ` +
    `process CPU incl. this client ${(produceCpu / total).toFixed(2)} µs/record)`,
);

// ---- fetch everything back, one Fetch at a time
const consumer = await connect();
let offset = 0;
let correlation = 0;
const c1 = cpu();
const t1 = performance.now();
await new Promise((resolve) => {
  onResponses(consumer, (bytes) => {
    offset += Math.floor(bytes / batch.length) * batchSize;
    if (offset >= total) resolve();
    else consumer.write(frame(1, 11, ++correlation, fetchBody(offset)));
  });
  consumer.write(frame(1, 11, ++correlation, fetchBody(0)));
});
const fetchSecs = (performance.now() - t1) / 1000;
const fetchCpu = cpu() - c1;
consumer.benchDone = true;
consumer.destroy();
console.log(
  `raw fetch:   ${Math.round(total / fetchSecs)} records/s (${((total * size) / fetchSecs / 1e6).toFixed(0)} MB/s; ` +
    `process CPU incl. this client ${(fetchCpu / total).toFixed(2)} µs/record)`,
);
await broker.close();
