import { randomBytes } from 'node:crypto';
import { type HecReceiver, type KafkaBroker, startHecReceiver, startKafkaBroker } from '@fleet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../src/index.js';
import { call, tempHome } from './helpers.js';
import { createAndDeployIndex, cursorAdvances, flipFloodFlag, throttleFlood, urls } from './walkthrough.js';

// The stack against "real" infrastructure: the real PostgreSQL (DATABASE_URL, a fresh database
// created and dropped here), and a Kafka broker and a HEC receiver started by the test and passed
// in as if they were external (KAFKA_BROKERS, HEC_URL + HEC_TOKEN), so the launcher starts neither.
const SERVER = process.env.DEMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const database = `fleet_demo_${randomBytes(4).toString('hex')}`;

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const reachable = await admin(async (c) => (await c.query('SELECT 1')).rowCount === 1).catch(() => false);
if (!reachable) console.warn(`PostgreSQL at ${SERVER} does not answer: the DATABASE_URL suite is skipped`);

describe.skipIf(!reachable)('startDemo with DATABASE_URL, KAFKA_BROKERS and HEC_URL', () => {
  const dir = tempHome();
  const url = new URL(SERVER);
  url.pathname = `/${database}`;
  let demo: Demo;
  let broker: KafkaBroker;
  let hec: HecReceiver;
  const hecToken = crypto.randomUUID();
  const lines: string[] = [];

  beforeAll(async () => {
    [broker, hec] = await Promise.all([
      startKafkaBroker({ autoCreateTopics: false }), // the launcher must create its topics
      startHecReceiver({ token: hecToken, keepEvents: false }),
      admin((c) => c.query(`CREATE DATABASE ${database}`)),
    ]);
    demo = await startDemo({
      home: dir.home,
      databaseUrl: url.toString(),
      kafkaBrokers: broker.brokers.join(','),
      hecUrl: hec.url,
      hecToken,
      output: (line) => lines.push(line),
      feedEveryMs: 500,
      pollEvery: '1s',
    });
    console.info(`demo ready in ${demo.readyMs} ms (DATABASE_URL)`);
  }, 180_000);
  afterAll(async () => {
    await demo?.stop();
    await Promise.all([broker?.close(), hec?.close()]);
    dir.remove();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  }, 30_000);

  it('uses the given Kafka (creating the topics) and HEC instead of embedded ones', async () => {
    expect(demo.kafka).toEqual({ brokers: broker.brokers.join(','), embedded: false });
    expect(demo.hec).toMatchObject({ url: hec.url, embedded: false });
    expect(broker.topics()).toEqual(expect.arrayContaining(['logs', 'alf.dlq']));
    await expect.poll(() => hec.acceptedCount, { timeout: 20_000 }).toBeGreaterThan(1000);
  });

  it('keeps each service in its own schema, and the flags in the shared table', async () => {
    const tables = await admin(async (c) => {
      const other = new pg.Client({ connectionString: url.toString() });
      await other.connect();
      try {
        const rows = await other.query<{ schema: string; name: string }>(
          `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
            WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
        );
        return rows.rows.map((r) => `${r.schema}.${r.name}`);
      } finally {
        await other.end();
        void c;
      }
    });
    expect(tables).toEqual(
      expect.arrayContaining([
        'index_provisioner.indexes',
        'index_provisioner.schema_migrations',
        'plugin_runner.plugin_instances',
        'plugin_runner.plugin_runner_migrations',
      ]),
    );
    expect(tables.some((t) => t.endsWith('.fleet_flags'))).toBe(true);
  });

  it('shares flags through PostgreSQL: a flip reaches log-generator', () => flipFloodFlag(demo), 30_000);
  it('throttles the flood through the shared flag', () => throttleFlood(demo), 40_000);
  it('creates and deploys an index', () => createAndDeployIndex(demo, 'pg_payments'), 30_000);
  it("advances the plugin's cursor", () => cursorAdvances(demo), 45_000);

  it('printed no warnings beyond the ones the walkthrough caused', () => {
    expect(lines.filter((line) => !/flag changed|log level changed|log rates changed/.test(line))).toEqual(
      [],
    );
  });

  it('keeps the flag visible to every service', async () => {
    const u = urls(demo);
    const seen = await call(`${u.loggen}/admin/flags/alf.drop.service.chatty-search`, demo.tokens.admin);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ source: 'store' });
  });
});
