// End to end: records produced to the Kafka test broker, forwarded by ALF (in-process, real kafkajs
// consumer through the chassis), received by the HEC test receiver over real sockets.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type HecReceiver,
  type HecReceiverOptions,
  type KafkaBroker,
  startHecReceiver,
  startKafkaBroker,
} from '@fleet/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  alfTestEnv,
  allCommitted,
  authEnv,
  eventIdOf,
  produceSpread,
  record,
  startAlf,
  stopAll,
  TOKEN,
  unique,
  waitFor,
} from './helpers.js';

let broker: KafkaBroker;
const receivers: HecReceiver[] = [];
const report: Array<{
  scenario: string;
  events: number;
  received: number;
  duplicates: number;
  dead_lettered: number;
}> = [];

beforeAll(async () => {
  broker = await startKafkaBroker({ defaultPartitions: 3 });
});

afterEach(async () => {
  await stopAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

afterAll(async () => {
  await broker?.close();
  if (report.length > 0) {
    console.log('\nALF end-to-end delivery report (duplicates = ids accepted more than once by HEC):');
    console.table(report);
  }
});

async function receiver(options: HecReceiverOptions = {}): Promise<HecReceiver> {
  const hec = await startHecReceiver({ token: TOKEN, eventId: eventIdOf, ...options });
  receivers.push(hec);
  return hec;
}

function setup(partitions = 3) {
  const topic = unique('logs');
  const group = unique('alf');
  const dlq = `${topic}.dlq`;
  broker.createTopic(topic, { partitions });
  broker.createTopic(dlq, { partitions: 1 });
  return { topic, group, dlq, env: { ALF_TOPICS: topic, ALF_GROUP_ID: group, ALF_DLQ_TOPIC: dlq } };
}

function everyIdAtLeastOnce(hec: HecReceiver, ids: string[]): boolean {
  return ids.every((id) => (hec.idCounts.get(id) ?? 0) >= 1);
}

describe('ALF end to end', () => {
  it('normal operation: every event arrives exactly once, mapped, and offsets reach the end', async () => {
    const t = setup(4);
    const hec = await receiver({ indexes: ['main', 'app', 'payments'] });
    const rules = JSON.stringify({
      defaultRoute: { index: 'app', sourcetype: 'alf:json' },
      routes: [
        {
          match: { service: 'payments', level: '>=warn' },
          index: 'payments',
          sourcetype: 'pay',
          fields: { team: 'money' },
        },
      ],
    });
    const ids = produceSpread(broker, t.topic, 4, 500, (id, p, i) =>
      record(id, p === 0 ? 'payments' : `svc-${p}`, {
        level: i % 2 === 0 ? 'WARN' : 'info',
        timestamp: 1_715_000_000_000 + i,
        fields: { region: `r${p}` },
      }),
    );
    const alf = await startAlf(
      alfTestEnv(broker, hec.url, {
        ...t.env,
        ALF_RULES: rules,
        ALF_INDEXED_FIELDS: 'level,region=fields.region',
      }),
    );
    await waitFor('all events', () => hec.idCounts.size === ids.length);
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    expect(hec.duplicateIds()).toEqual([]);
    expect(hec.acceptedCount).toBe(ids.length);

    const byId = new Map(hec.events.map((e) => [eventIdOf(e), e]));
    const payWarn = byId.get('e0-0')!;
    expect(payWarn).toMatchObject({
      index: 'payments',
      sourcetype: 'pay',
      source: 'payments',
      host: 'payments-host',
      time: 1_715_000_000,
      fields: { level: 'WARN', region: 'r0', team: 'money' },
    });
    expect(payWarn.event).toEqual(
      record('e0-0', 'payments', { level: 'WARN', timestamp: 1_715_000_000_000, fields: { region: 'r0' } }),
    );
    expect(byId.get('e0-1')).toMatchObject({ index: 'app', sourcetype: 'alf:json', time: 1_715_000_000.001 });
    expect(byId.get('e3-7')).toMatchObject({ source: 'svc-3', host: 'svc-3-host', index: 'app' });

    const metrics = await (await fetch(`${alf.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`alf_events_consumed_total\\{topic="${t.topic}"\\} 2000`));
    expect(metrics).toMatch(/alf_events_delivered_total 2000/);
    expect(metrics).toMatch(/alf_end_to_end_latency_seconds_count 2000/);
    expect(metrics).toMatch(/alf_hec_request_duration_seconds_count\{endpoint="127\.0\.0\.1:\d+",code="0"\}/);
    expect(metrics).toMatch(/kafka_consumer_lag\{topic=/);
    report.push({
      scenario: 'normal',
      events: ids.length,
      received: hec.acceptedCount,
      duplicates: 0,
      dead_lettered: 0,
    });
  });

  const faults: Array<{
    name: string;
    env?: Record<string, string>;
    receiver?: HecReceiverOptions;
    inject: (hec: HecReceiver) => void;
  }> = [
    { name: 'busy 503 (30 % of requests)', inject: (hec) => hec.faults.busy({ probability: 0.3 }) },
    {
      name: 'slow HEC (answers after the 300 ms timeout)',
      env: { HEC_TIMEOUT_MS: '300' },
      inject: (hec) => hec.faults.delay(600, { times: 3, phase: 'after-accept' }),
    },
    {
      name: 'connection reset after accept',
      inject: (hec) => hec.faults.reset({ phase: 'after-accept', times: 3 }),
    },
    { name: 'connection reset before accept', inject: (hec) => hec.faults.reset({ probability: 0.2 }) },
    {
      name: 'ack delays and a lost ack',
      env: { HEC_ACK: 'true', HEC_ACK_POLL_MS: '50', HEC_ACK_TIMEOUT_MS: '1500' },
      receiver: { ack: true },
      inject: (hec) => {
        hec.faults.ackDelay(400, { probability: 0.5 });
        hec.faults.neverAck({ times: 1 });
      },
    },
  ];

  it.each(faults)('under fault "$name" every event arrives at least once', async (fault) => {
    const t = setup(3);
    const hec = await receiver(fault.receiver ?? {});
    fault.inject(hec);
    const ids = produceSpread(broker, t.topic, 3, 200, (id, p) => record(id, `svc-${p}`));
    const alf = await startAlf(
      alfTestEnv(broker, hec.url, { ...t.env, HEC_BATCH_MAX_EVENTS: '50', ...fault.env }),
    );
    await waitFor('every event at least once', () => everyIdAtLeastOnce(hec, ids), 40_000);
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    expect(hec.idCounts.size).toBe(ids.length);
    const duplicates = hec.duplicateIds().length;
    report.push({
      scenario: fault.name,
      events: ids.length,
      received: hec.acceptedCount,
      duplicates,
      dead_lettered: 0,
    });
    // Duplicates are only possible where an answer was lost, and ALF counts those
    expect(duplicates).toBeLessThanOrEqual(alf.forwarder.metrics.possibleDuplicates);
  });

  it('a disabled token stops consuming with readiness 503, and delivery resumes when it is enabled', async () => {
    const t = setup(2);
    const hec = await receiver();
    const first = produceSpread(broker, t.topic, 2, 100, (id, p) => record(id, `svc-${p}`), 'a');
    const alf = await startAlf(alfTestEnv(broker, hec.url, t.env));
    await waitFor('first events', () => everyIdAtLeastOnce(hec, first));
    expect((await fetch(`${alf.url}/health/ready`)).status).toBe(200);

    const fault = hec.faults.tokenDisabled();
    const second = produceSpread(broker, t.topic, 2, 100, (id, p) => record(id, `svc-${p}`), 'b');
    await waitFor('stalled', () => alf.forwarder.delivery.stall !== null);
    const ready = await fetch(`${alf.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain('Token disabled');
    // Nothing of the second run is committed while HEC refuses the token
    await new Promise((r) => setTimeout(r, 300));
    expect(allCommitted(broker, t.group, t.topic)).toBe(false);
    const refusedSoFar = hec.requests.byStatus[403] ?? 0;
    expect(refusedSoFar).toBeLessThan(15); // one probe at a time, backing off

    fault.clear();
    await waitFor('second events', () => everyIdAtLeastOnce(hec, second));
    await waitFor('ready again', () => alf.forwarder.delivery.stall === null);
    expect((await fetch(`${alf.url}/health/ready`)).status).toBe(200);
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    report.push({
      scenario: 'token disabled, then enabled',
      events: 400,
      received: hec.acceptedCount,
      duplicates: hec.duplicateIds().length,
      dead_lettered: 0,
    });
  });

  it('a wrong token stalls delivery until the token file is fixed and POST /admin/alf/reload succeeds', async () => {
    const t = setup(1);
    const hec = await receiver();
    const dir = mkdtempSync(join(tmpdir(), 'alf-token-'));
    const tokenFile = join(dir, 'hec-token');
    writeFileSync(tokenFile, 'deadbeef-0000-4000-8000-000000000000\n');
    const { env: auth, adminToken } = await authEnv();
    const ids = produceSpread(broker, t.topic, 1, 50, (id) => record(id, 'svc'));
    const { HEC_TOKEN: _token, ...env } = alfTestEnv(broker, hec.url, {
      ...t.env,
      ...auth,
      HEC_TOKEN_FILE: tokenFile,
      // Only the reload may pick up the new token here (no automatic re-read)
      ALF_RULES_POLL_MS: '60000',
    });
    const alf = await startAlf(env);
    await waitFor('stalled', () => alf.forwarder.delivery.stall?.reason === 'token');
    const ready = await fetch(`${alf.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain('Invalid token');
    const status = (await (
      await fetch(`${alf.url}/admin/alf/status`, { headers: { authorization: `Bearer ${adminToken}` } })
    ).json()) as {
      state: string;
      stall: { code: number };
    };
    expect(status).toMatchObject({ state: 'stalled', stall: { code: 4 } });

    writeFileSync(tokenFile, `${TOKEN}\n`);
    const reload = await fetch(`${alf.url}/admin/alf/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(reload.status).toBe(200);
    expect(await reload.json()).toMatchObject({ ok: true, token: { changed: true, source: 'file' } });
    await waitFor('delivered', () => everyIdAtLeastOnce(hec, ids));
    await waitFor('ready again', () => alf.forwarder.delivery.stall === null);
    expect(hec.duplicateIds()).toEqual([]);
  });

  it('poison records and events HEC refuses land in the dead-letter topic, with the reason and their origin', async () => {
    const t = setup(1);
    const hec = await receiver({ indexes: ['main', 'app'] });
    hec.faults.invalidEvent({ match: (e) => (e as { event?: { poison?: boolean } }).event?.poison === true });
    const values = [
      JSON.stringify(record('ok-0', 'svc')),
      'this is not json',
      JSON.stringify({ id: 'nosvc', level: 'info', message: 'no service' }),
      JSON.stringify(record('big', 'svc', { message: 'x'.repeat(3000) })),
      JSON.stringify(record('poison', 'svc', { poison: true })),
      JSON.stringify(record('badindex', 'svc-idx')),
      JSON.stringify(record('ok-1', 'svc')),
      // An invalid escape deep in a long string: left to HEC, which refuses it (code 6)
      `{"id":"badescape","service":"svc","message":"${'x'.repeat(40)}\\q"}`,
    ];
    broker.produce(
      t.topic,
      values.map((value) => ({ value })),
      { partition: 0 },
    );
    const rules = JSON.stringify({ routes: [{ match: { service: 'svc-idx' }, index: 'forbidden' }] });
    const alf = await startAlf(
      alfTestEnv(broker, hec.url, { ...t.env, ALF_MAX_EVENT_BYTES: '2048', ALF_RULES: rules }),
    );
    await waitFor('dead letters', () => broker.records(t.dlq).length === 6);
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    expect([...hec.idCounts.keys()].sort()).toEqual(['ok-0', 'ok-1']);
    const dead = broker.records(t.dlq).map((r) => {
      const h = Object.fromEntries(r.headers.map((x) => [x.key, x.value?.toString()]));
      return {
        reason: h['x-alf-reason'],
        topic: h['x-original-topic'],
        partition: h['x-original-partition'],
        offset: h['x-original-offset'],
        same: r.value?.toString() === values[Number(h['x-original-offset'])],
      };
    });
    expect(dead.sort((a, b) => Number(a.offset) - Number(b.offset))).toEqual([
      { reason: 'not_json', topic: t.topic, partition: '0', offset: '1', same: true },
      { reason: 'missing_service', topic: t.topic, partition: '0', offset: '2', same: true },
      { reason: 'oversize', topic: t.topic, partition: '0', offset: '3', same: true },
      { reason: 'hec_invalid_event', topic: t.topic, partition: '0', offset: '4', same: true },
      { reason: 'hec_incorrect_index', topic: t.topic, partition: '0', offset: '5', same: true },
      { reason: 'hec_invalid_event', topic: t.topic, partition: '0', offset: '7', same: true },
    ]);
    const metrics = await (await fetch(`${alf.url}/metrics`)).text();
    expect(metrics).toContain('alf_events_dead_lettered_total{reason="not_json"} 1');
    expect(metrics).toContain('alf_events_dead_lettered_total{reason="hec_incorrect_index"} 1');
    expect(metrics).toContain('alf_hec_incorrect_index_total 1');
    report.push({
      scenario: 'poison records',
      events: 8,
      received: hec.acceptedCount,
      duplicates: 0,
      dead_lettered: 6,
    });
  });

  it('a flood from one service is throttled while the others keep flowing; an operator finds and silences it in one step', async () => {
    const t = setup(2);
    const hec = await receiver();
    const dir = mkdtempSync(join(tmpdir(), 'alf-rules-'));
    const rulesFile = join(dir, 'rules.json');
    writeFileSync(
      rulesFile,
      JSON.stringify({ limits: [{ service: 'flood-*', level: '<=debug', rate: 100, burst: 100 }] }),
    );
    const { env: auth, adminToken } = await authEnv();
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };

    // Partition 0: a debug flood; partition 1: a calm service. Headers carry service and level.
    const flood = Array.from({ length: 4000 }, (_, i) => ({
      value: JSON.stringify(record(`f${i}`, 'flood-svc', { level: 'debug' })),
      headers: { service: 'flood-svc', level: 'debug' },
    }));
    const calm = Array.from({ length: 300 }, (_, i) => ({ value: JSON.stringify(record(`c${i}`, 'calm')) }));
    broker.produce(t.topic, flood, { partition: 0 });
    broker.produce(t.topic, calm, { partition: 1 });
    const started = Date.now();
    const alf = await startAlf(alfTestEnv(broker, hec.url, { ...t.env, ...auth, ALF_RULES_FILE: rulesFile }));
    const calmIds = calm.map((_, i) => `c${i}`);
    await waitFor('calm events', () => everyIdAtLeastOnce(hec, calmIds));
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    const floodDelivered = [...hec.idCounts.keys()].filter((id) => id.startsWith('f')).length;
    const elapsedS = (Date.now() - started) / 1000;
    expect(floodDelivered).toBeLessThanOrEqual(100 + 100 * elapsedS + 5);
    expect(floodDelivered).toBeGreaterThanOrEqual(100);
    const metrics = await (await fetch(`${alf.url}/metrics`)).text();
    const dropped = Number(
      /alf_events_dropped_total\{reason="rate_limit",service="flood-svc",level="debug"\} (\d+)/.exec(
        metrics,
      )?.[1],
    );
    expect(dropped + floodDelivered).toBe(4000);

    // The operator: who floods? (top needs a full second of history)
    await new Promise((r) => setTimeout(r, 1100));
    const top = (await (await fetch(`${alf.url}/admin/alf/top?window=10`, { headers: admin })).json()) as {
      services: Array<{ service: string; events_per_s: number; drop_flag: string }>;
    };
    expect(top.services[0]).toMatchObject({ service: 'flood-svc', drop_flag: 'alf.drop.service.flood-svc' });
    expect(top.services[0]!.events_per_s).toBeGreaterThan(top.services[1]?.events_per_s ?? 0);
    // One step: the kill switch
    const put = await fetch(`${alf.url}/admin/flags/${top.services[0]!.drop_flag}`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ value: 10000 }),
    });
    expect(put.status).toBe(200);
    const before = hec.acceptedCount;
    broker.produce(
      t.topic,
      Array.from({ length: 500 }, (_, i) => ({
        value: JSON.stringify(record(`g${i}`, 'flood-svc', { level: 'error' })),
      })),
      { partition: 0 },
    );
    broker.produce(t.topic, [{ value: JSON.stringify(record('c-after', 'calm')) }], { partition: 1 });
    await waitFor('calm after the switch', () => hec.idCounts.has('c-after'));
    await waitFor('offsets committed to the end', () => allCommitted(broker, t.group, t.topic));
    expect(hec.acceptedCount).toBe(before + 1);

    // Rules are hot-reloaded from the file: lift the limit, route calm elsewhere
    writeFileSync(
      `${rulesFile}.tmp`,
      JSON.stringify({ routes: [{ match: { service: 'calm' }, index: 'calm_idx' }] }),
    );
    renameSync(`${rulesFile}.tmp`, rulesFile);
    await waitFor('rules reloaded', () => alf.forwarder.pipeline.generation === 2, 5000);
    broker.produce(t.topic, [{ value: JSON.stringify(record('c-routed', 'calm')) }], { partition: 1 });
    await waitFor('routed', () => hec.idCounts.has('c-routed'));
    expect(hec.events.find((e) => eventIdOf(e) === 'c-routed')?.index).toBe('calm_idx');
    report.push({
      scenario: 'flood throttled',
      events: 4802,
      received: hec.acceptedCount,
      duplicates: hec.duplicateIds().length,
      dead_lettered: 0,
    });
  });

  it('refuses bad rules at start with every problem listed', async () => {
    const t = setup(1);
    const { ConfigError } = await import('@fleet/chassis');
    await expect(
      startAlf(
        alfTestEnv(broker, 'http://127.0.0.1:1', {
          ...t.env,
          ALF_RULES: JSON.stringify({ routes: [{ match: { level: 'loud' } }], limits: [{ rate: -1 }] }),
          HEC_URL: 'ftp://nope',
        }),
      ),
    ).rejects.toSatisfy((err: unknown) => {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as InstanceType<typeof ConfigError>).message;
      expect(problems).toContain("unknown level 'loud'");
      expect(problems).toContain('limits[0].rate: must be a number >= 0');
      expect(problems).toContain("'ftp://nope' is not a usable HEC URL");
      return true;
    });
  });
});
