import { afterEach, describe, expect, it } from 'vitest';
import { FaultRegistry, seededRandom } from './faults.js';
import { type HecReceiver, type HecReceiverOptions, startHecReceiver } from './receiver.js';
import { batch, CHANNEL, hec, until } from './test-client.js';

const TOKEN = '00000000-0000-0000-0000-0000000000aa';
const EVENT_PATH = '/services/collector/event';

let receiver: HecReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function start(opts: HecReceiverOptions = {}): Promise<HecReceiver> {
  receiver = await startHecReceiver({ token: TOKEN, ...opts });
  return receiver;
}

const send = (r: HecReceiver, body: string, extra: Parameters<typeof hec>[3] = {}) =>
  hec(r.url, EVENT_PATH, body, { token: TOKEN, ...extra });

const events = (...names: string[]) => batch(names.map((n) => ({ event: n })));

describe('busy and arbitrary replies', () => {
  it('busy n times: 503 code 9, nothing recorded, then success', async () => {
    const r = await start();
    const fault = r.faults.busy({ times: 2 });
    const a = await send(r, events('a'));
    const b = await send(r, events('b'));
    const c = await send(r, events('c'));
    expect([a.status, a.text]).toEqual([503, '{"text":"Server is busy","code":9}']);
    expect(b.status).toBe(503);
    expect(c.status).toBe(200);
    expect(r.events.map((e) => e.event)).toEqual(['c']);
    expect(fault).toMatchObject({ triggered: 2, remaining: 0, active: false });
    expect(r.faults.counts.busy).toBe(2);
    expect(r.faults.active).toEqual([]);
  });

  it('busy until cleared, and only on the endpoints it names', async () => {
    const r = await start();
    const fault = r.faults.busy();
    for (let i = 0; i < 3; i++) expect((await send(r, events('x'))).status).toBe(503);
    expect((await hec(r.url, '/services/collector/health')).status).toBe(200);
    fault.clear();
    expect((await send(r, events('y'))).status).toBe(200);

    r.faults.busy({ endpoints: ['health'], times: 1 });
    const health = await hec(r.url, '/services/collector/health');
    expect([health.status, health.body]).toEqual([
      503,
      { text: 'HEC is unhealthy, queues are full', code: 18 },
    ]);
    expect(r.faults.counts.busy).toBe(4);
  });

  it('respond: any HEC code with its status, or a raw status and body', async () => {
    const r = await start();
    r.faults.respond({ code: 8 }, { times: 1 });
    r.faults.respond({ status: 502, body: '<html>bad gateway</html>' }, { times: 1 });
    r.faults.respond({ status: 429, code: 9, text: 'Too many' }, { times: 1 });
    const a = await send(r, events('a'));
    const b = await send(r, events('b'));
    const c = await send(r, events('c'));
    expect([a.status, a.body]).toEqual([500, { text: 'Internal server error', code: 8 }]);
    expect([b.status, b.text]).toEqual([502, '<html>bad gateway</html>']);
    expect([c.status, c.body]).toEqual([429, { text: 'Too many', code: 9 }]);
    expect(r.acceptedCount).toBe(0);
    expect(r.faults.counts.respond).toBe(3);
  });

  it('tokenDisabled: 403 code 1 for a valid token, n times', async () => {
    const r = await start();
    r.faults.tokenDisabled({ times: 1 });
    const noToken = await hec(r.url, EVENT_PATH, events('x'));
    expect(noToken.body.code).toBe(2); // auth problems come first and do not consume the fault
    const disabled = await send(r, events('a'));
    expect([disabled.status, disabled.body]).toEqual([403, { text: 'Token disabled', code: 1 }]);
    expect((await send(r, events('b'))).status).toBe(200);
    expect(r.events.map((e) => e.event)).toEqual(['b']);
  });
});

describe('slow responses and resets', () => {
  it('delay before accept slows the answer', async () => {
    const r = await start();
    r.faults.delay(150, { times: 1 });
    const t0 = Date.now();
    expect((await send(r, events('a'))).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(r.acceptedCount).toBe(1);
  });

  it('delay before accept: a client that gives up gets nothing indexed', async () => {
    const r = await start();
    r.faults.delay(1_000);
    await expect(send(r, events('a'), { abortAfterMs: 50 })).rejects.toThrow(/gave up/);
    await until(() => r.requests.abandoned === 1);
    expect(r.acceptedCount).toBe(0);
  });

  it('delay after accept: the events are indexed even though the client gave up', async () => {
    const r = await start();
    r.faults.delay(300, { phase: 'after-accept' });
    await expect(send(r, events('a', 'b'), { abortAfterMs: 50 })).rejects.toThrow(/gave up/);
    await r.waitForEvents(2, 1_000);
    expect(r.events.map((e) => e.event)).toEqual(['a', 'b']);
  });

  it('reset before accept: connection destroyed, nothing recorded', async () => {
    const r = await start();
    r.faults.reset({ times: 1 });
    await expect(send(r, events('a'))).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(r.acceptedCount).toBe(0);
    expect(r.requests.resets).toBe(1);
    expect((await send(r, events('b'))).status).toBe(200);
    expect(r.events.map((e) => e.event)).toEqual(['b']);
  });

  it('reset after accept: events recorded, client sees a reset (at-least-once duplicates on retry)', async () => {
    const r = await start({ eventId: (e) => String(e.event) });
    r.faults.reset({ phase: 'after-accept', times: 1 });
    await expect(send(r, events('a'))).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect((await send(r, events('a'))).status).toBe(200); // the client's retry
    expect(r.duplicateIds()).toEqual(['a']);
    expect(r.faults.counts.reset).toBe(1);
  });
});

describe('invalid events', () => {
  it('marks event k of the next batch invalid; events before it are indexed', async () => {
    const r = await start();
    r.faults.invalidEvent({ eventIndex: 2, times: 1 });
    const short = await send(r, events('s0', 's1')); // too short: the fault waits for a batch with event 2
    expect(short.status).toBe(200);
    const res = await send(r, events('a', 'b', 'c', 'd'));
    expect([res.status, res.body]).toEqual([
      400,
      { text: 'Invalid data format', code: 6, 'invalid-event-number': 2 },
    ]);
    expect(r.events.map((e) => e.event)).toEqual(['s0', 's1', 'a', 'b']);
    expect(r.rejectedCount).toBe(2);
    expect((await send(r, events('a', 'b', 'c', 'd'))).status).toBe(200);
  });

  it('marks the first event matching a predicate, with a chosen code', async () => {
    const r = await start();
    r.faults.invalidEvent({ match: (e) => typeof e === 'object' && e.event === 'poison', code: 7 });
    const res = await send(r, events('ok', 'poison', 'after'));
    expect(res.body).toEqual({ text: 'Incorrect index', code: 7, 'invalid-event-number': 1 });
    const again = await send(r, events('poison'));
    expect(again.body).toEqual({ text: 'Incorrect index', code: 7, 'invalid-event-number': 0 });
    expect(r.events.map((e) => e.event)).toEqual(['ok']);
    expect(r.faults.counts.invalidEvent).toBe(2);
  });

  it('applies to raw lines too', async () => {
    const r = await start();
    r.faults.invalidEvent({ eventIndex: 1, times: 1 });
    const res = await hec(r.url, '/services/collector/raw', 'l0\nl1\nl2', { token: TOKEN, channel: CHANNEL });
    expect(res.body).toEqual({ text: 'Invalid data format', code: 6, 'invalid-event-number': 1 });
    expect(r.events.map((e) => e.event)).toEqual(['l0']);
  });
});

describe('ack faults', () => {
  const ackQuery = (r: HecReceiver, ids: number[]) =>
    hec(r.url, '/services/collector/ack', JSON.stringify({ acks: ids }), { token: TOKEN, channel: CHANNEL });

  it('neverAck keeps acks false; ackDelay delays them', async () => {
    const r = await start({ ack: true });
    r.faults.neverAck({ times: 1 });
    r.faults.ackDelay(1_000, { times: 1 });
    await send(r, events('a'), { channel: CHANNEL }); // ackId 0: never
    await send(r, events('b'), { channel: CHANNEL }); // ackId 1: after 1 s
    await send(r, events('c'), { channel: CHANNEL }); // ackId 2: at once
    expect((await ackQuery(r, [0, 1, 2])).body).toEqual({ acks: { 0: false, 1: false, 2: true } });
    await until(() => r.pendingAcks(CHANNEL).length === 2); // 0 and 1 still pending
    await new Promise((res) => setTimeout(res, 1_100));
    expect((await ackQuery(r, [0, 1])).body).toEqual({ acks: { 0: false, 1: true } });
    expect(r.pendingAcks(CHANNEL)).toEqual([0]);
    expect(r.faults.counts).toMatchObject({ neverAck: 1, ackDelay: 1 });
    expect(r.acceptedCount).toBe(3);
  });
});

describe('probabilistic faults', () => {
  it('are reproducible with a seed and hit about the asked share', async () => {
    async function run(seed: number): Promise<number[]> {
      const r = await startHecReceiver({ token: TOKEN, seed });
      try {
        r.faults.busy({ probability: 0.3 });
        const statuses: number[] = [];
        for (let i = 0; i < 60; i++) statuses.push((await send(r, events(`e${i}`))).status);
        expect(r.acceptedCount).toBe(statuses.filter((s) => s === 200).length);
        return statuses;
      } finally {
        await r.close();
      }
    }
    const first = await run(42);
    const second = await run(42);
    expect(second).toEqual(first);
    const busy = first.filter((s) => s === 503).length;
    expect(busy).toBeGreaterThan(5);
    expect(busy).toBeLessThan(35);
  });

  it('probability + times: at most `times` triggers', () => {
    const reg = new FaultRegistry(7);
    const f = reg.busy({ probability: 0.5, times: 3 });
    let fired = 0;
    for (let i = 0; i < 100; i++) if (reg.fire(['busy'], 'event')) fired++;
    expect(fired).toBe(3);
    expect(f.active).toBe(false);
  });

  it('validates specs and gives a stable RNG', () => {
    const reg = new FaultRegistry();
    expect(() => reg.busy({ times: 0 })).toThrow(RangeError);
    expect(() => reg.busy({ probability: 2 })).toThrow(RangeError);
    expect(() => reg.delay(-1)).toThrow(RangeError);
    expect(() => reg.invalidEvent({})).toThrow(TypeError);
    const a = seededRandom(1);
    const b = seededRandom(1);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});
