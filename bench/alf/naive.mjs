// The naive baseline forwarder: consume one message, parse it, build the HEC envelope, POST that
// one event, wait for the answer, next. What a first version of ALF would look like.
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'undici';

const { KAFKA_BROKERS, TOPIC, GROUP, HEC_URL, HEC_TOKEN } = process.env;
const kafka = new Kafka({
  clientId: 'naive-alf',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.ERROR,
});
const consumer = kafka.consumer({ groupId: GROUP, maxWaitTimeInMs: 100 });
const pool = new Pool(HEC_URL, { connections: 1 });
await consumer.connect();
await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
let sent = 0;
setInterval(() => process.send?.({ sent }), 250).unref();
await consumer.run({
  eachMessage: async ({ message }) => {
    const o = JSON.parse(message.value.toString());
    const body = JSON.stringify({
      time: Date.parse(o.timestamp) / 1000,
      host: o.host,
      source: o.service,
      sourcetype: 'alf:json',
      event: o,
    });
    const res = await pool.request({
      path: '/services/collector/event',
      method: 'POST',
      headers: { authorization: `Splunk ${HEC_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HEC answered ${res.statusCode}`);
    sent++;
  },
});
process.on('SIGTERM', async () => {
  await consumer.disconnect().catch(() => {});
  process.exit(0);
});
