import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type HecReceiver, type HecReceiverOptions, startHecReceiver } from './receiver.js';
import { batch, CHANNEL, CHANNEL_2, hec } from './test-client.js';

const TOKEN = '00000000-0000-0000-0000-000000000001';
const OTHER = '00000000-0000-0000-0000-000000000002';

let receiver: HecReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function start(opts: HecReceiverOptions = {}): Promise<HecReceiver> {
  receiver = await startHecReceiver({ token: TOKEN, ...opts });
  return receiver;
}

const SUCCESS = { text: 'Success', code: 0 };

describe('health', () => {
  it('answers 200 code 17 on both paths, without a token', async () => {
    const r = await start();
    for (const path of ['/services/collector/health', '/services/collector/health/1.0']) {
      const res = await hec(r.url, path);
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"text":"HEC is healthy","code":17}');
    }
    expect(r.requests.byEndpoint.health).toBe(2);
  });

  it('answers 404 for unknown paths and wrong methods', async () => {
    const r = await start();
    expect((await hec(r.url, '/services/collector/nope', '{}', { token: TOKEN })).status).toBe(404);
    const wrongMethod = await hec(r.url, '/services/collector/event', undefined, { token: TOKEN });
    expect(wrongMethod.status).toBe(404);
    expect(wrongMethod.body).toEqual({ text: 'The requested URL was not found on this server.', code: 404 });
  });
});

describe('event endpoint', () => {
  it('accepts one event on each event path, with Splunk defaults for missing metadata', async () => {
    const r = await start();
    for (const path of [
      '/services/collector/event',
      '/services/collector',
      '/services/collector/event/1.0',
    ]) {
      const res = await hec(r.url, path, JSON.stringify({ event: `via ${path}` }), { token: TOKEN });
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"text":"Success","code":0}');
    }
    expect(r.events.map((e) => e.event)).toEqual([
      'via /services/collector/event',
      'via /services/collector',
      'via /services/collector/event/1.0',
    ]);
    const [first] = r.events;
    expect(first).toMatchObject({
      endpoint: 'event',
      index: 'main',
      sourcetype: 'httpevent',
      source: 'http:fleet-hec',
      host: `127.0.0.1:${r.port}`,
      token: TOKEN,
    });
    expect(first?.time).toBeCloseTo(Date.now() / 1000, -1);
  });

  it('records metadata, fields and time as sent, in arrival order', async () => {
    const r = await start({ tokens: { [TOKEN]: { indexes: ['app', 'audit'], defaultIndex: 'app' } } });
    const events = [
      {
        event: { msg: 'one', n: 1 },
        time: 1700000000.5,
        host: 'h1',
        source: 's1',
        sourcetype: '_json',
        index: 'audit',
      },
      { event: 'two', fields: { team: 'core', tags: ['a', 'b'] }, time: '1700000001' },
    ];
    expect((await hec(r.url, '/services/collector/event', batch(events), { token: TOKEN })).body).toEqual(
      SUCCESS,
    );
    expect(r.events).toMatchObject([
      {
        event: { msg: 'one', n: 1 },
        time: 1700000000.5,
        host: 'h1',
        source: 's1',
        sourcetype: '_json',
        index: 'audit',
      },
      { event: 'two', fields: { team: 'core', tags: ['a', 'b'] }, time: 1700000001, index: 'app' },
    ]);
    expect(r.acceptedCount).toBe(2);
  });

  it('parses concatenated batches: no separator, whitespace, nested braces, braces in strings, escaped quotes', async () => {
    const r = await start();
    const body =
      '{"event":{"a":{"b":{"c":"}"}}}}' +
      '   {"event":"quote \\" and brace { in string"}\n\n' +
      '{"event":"backslash at end \\\\"}\r\n\t{"event":["x",{"y":"]"}]}';
    const res = await hec(r.url, '/services/collector/event', body, { token: TOKEN });
    expect(res.body).toEqual(SUCCESS);
    expect(r.events.map((e) => e.event)).toEqual([
      { a: { b: { c: '}' } } },
      'quote " and brace { in string',
      'backslash at end \\',
      ['x', { y: ']' }],
    ]);
  });

  it('accepts gzip bodies and refuses corrupt gzip with code 6', async () => {
    const r = await start();
    const events = Array.from({ length: 50 }, (_, i) => ({ event: { i, pad: 'x'.repeat(100) } }));
    const res = await hec(r.url, '/services/collector/event', batch(events), { token: TOKEN, gzip: true });
    expect(res.body).toEqual(SUCCESS);
    expect(r.acceptedCount).toBe(50);
    expect(r.requests.decompressedBytes).toBeGreaterThan(r.requests.bytes);

    const corrupt = await hec(r.url, '/services/collector/event', Buffer.from('not gzip at all'), {
      token: TOKEN,
      headers: { 'Content-Encoding': 'gzip' },
    });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body).toEqual({ text: 'Invalid data format', code: 6 });
    expect(r.acceptedCount).toBe(50);
  });

  it('answers No data (5) for an empty or whitespace body', async () => {
    const r = await start();
    for (const body of ['', '  \n ']) {
      const res = await hec(r.url, '/services/collector/event', body, { token: TOKEN });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ text: 'No data', code: 5 });
    }
  });

  it('answers 413 above maxContentLength and accepts nothing', async () => {
    const r = await start({ maxContentLength: 1000 });
    const big = batch(Array.from({ length: 20 }, (_, i) => ({ event: `event ${i} ${'y'.repeat(80)}` })));
    const res = await hec(r.url, '/services/collector/event', big, { token: TOKEN });
    expect(res.status).toBe(413);
    expect(res.body.text).toMatch(/too large \(maximum is 1000\)/);
    expect(r.acceptedCount).toBe(0);
    const small = await hec(r.url, '/services/collector/event', '{"event":"ok"}', { token: TOKEN });
    expect(small.status).toBe(200);
  });

  it('answers 413 when a gzip body inflates past maxDecompressedLength', async () => {
    const r = await start({ maxDecompressedLength: 10_000 });
    const body = JSON.stringify({ event: 'z'.repeat(50_000) });
    const res = await hec(r.url, '/services/collector/event', body, { token: TOKEN, gzip: true });
    expect(res.status).toBe(413);
    expect(r.acceptedCount).toBe(0);
  });
});

describe('clients', () => {
  it('works with global fetch, gzip included', async () => {
    const r = await start();
    const res = await fetch(`${r.url}/services/collector/event`, {
      method: 'POST',
      headers: {
        Authorization: `Splunk ${TOKEN}`,
        'Content-Encoding': 'gzip',
        'Content-Type': 'application/json',
      },
      body: gzipSync(batch([{ event: 'via fetch' }, { event: 'again' }])),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(await res.json()).toEqual(SUCCESS);
    expect(r.events.map((e) => e.event)).toEqual(['via fetch', 'again']);
  });

  it('survives a client that hangs up mid-upload, accepting nothing', async () => {
    const r = await start();
    await new Promise<void>((resolve) => {
      const req = request(`${r.url}/services/collector/event`, {
        method: 'POST',
        agent: false,
        headers: { Authorization: `Splunk ${TOKEN}`, 'Content-Length': '1000' },
      });
      req.on('error', () => resolve());
      req.write('{"event":"partial');
      setTimeout(() => req.destroy(), 50);
    });
    await new Promise((res) => setTimeout(res, 50));
    expect(r.acceptedCount).toBe(0);
    expect((await hec(r.url, '/services/collector/event', '{"event":"next"}', { token: TOKEN })).status).toBe(
      200,
    );
  });
});

describe('invalid events', () => {
  const good = (i: number) => ({ event: `good ${i}` });

  async function post(r: HecReceiver, events: string) {
    return hec(r.url, '/services/collector/event', events, { token: TOKEN });
  }

  it.each([
    ['missing event', { time: 1 }, 400, { text: 'Event field is required', code: 12 }],
    ['blank event', { event: '' }, 400, { text: 'Event field cannot be blank', code: 13 }],
    [
      'nested fields',
      { event: 'x', fields: { a: { b: 1 } } },
      400,
      { text: 'Error in handling indexed fields', code: 15 },
    ],
    [
      'array in fields array',
      { event: 'x', fields: { a: [['b']] } },
      400,
      { text: 'Error in handling indexed fields', code: 15 },
    ],
    ['non-numeric time', { event: 'x', time: 'noon' }, 400, { text: 'Invalid data format', code: 6 }],
    [
      'index not allowed for the token',
      { event: 'x', index: 'secret' },
      400,
      { text: 'Incorrect index', code: 7 },
    ],
  ])(
    '%s: 400 with the invalid event number; events before it are indexed',
    async (_name, bad, status, body) => {
      const r = await start({ tokens: { [TOKEN]: { indexes: ['main', 'app'] } } });
      const res = await post(r, batch([good(0), good(1), bad as Record<string, unknown>, good(3)]));
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ ...body, 'invalid-event-number': 2 });
      expect(r.events.map((e) => e.event)).toEqual(['good 0', 'good 1']);
      expect(r.rejectedCount).toBe(2);
    },
  );

  it('refuses an index that does not exist (7) even when the token allows any', async () => {
    const r = await start({ indexes: ['main', 'app'] });
    const res = await post(
      r,
      batch([
        { event: 'a', index: 'app' },
        { event: 'b', index: 'ghost' },
      ]),
    );
    expect(res.body).toEqual({ text: 'Incorrect index', code: 7, 'invalid-event-number': 1 });
    expect(r.events.map((e) => e.index)).toEqual(['app']);
  });

  it('reports malformed JSON as code 6 at its position, and a JSON array at 0', async () => {
    const r = await start();
    const res = await post(r, `${batch([good(0)])}\n{"event": "broken",}\n${batch([good(2)])}`);
    expect(res.body).toEqual({ text: 'Invalid data format', code: 6, 'invalid-event-number': 1 });
    const arr = await post(r, JSON.stringify([good(0), good(1)]));
    expect(arr.body).toEqual({ text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    expect(r.events.map((e) => e.event)).toEqual(['good 0']);
  });

  it("partialBatch 'reject-all' accepts nothing from a batch with an invalid event", async () => {
    const r = await start({ partialBatch: 'reject-all' });
    const res = await post(r, batch([good(0), good(1), { nope: 1 }]));
    expect(res.body).toEqual({ text: 'Event field is required', code: 12, 'invalid-event-number': 2 });
    expect(r.acceptedCount).toBe(0);
    expect(r.rejectedCount).toBe(3);
  });
});

describe('tokens', () => {
  const path = '/services/collector/event';
  const body = '{"event":"x"}';

  it('maps token problems to Splunk codes and statuses', async () => {
    const r = await start({ tokens: { [TOKEN]: {}, [OTHER]: { disabled: true } } });
    const cases: [Parameters<typeof hec>[3], number, Record<string, unknown>][] = [
      [{}, 401, { text: 'Token is required', code: 2 }],
      [{ authorization: 'Splunk' }, 401, { text: 'Token is required', code: 2 }],
      [{ authorization: `Bearer ${TOKEN}` }, 401, { text: 'Invalid authorization', code: 3 }],
      [{ authorization: TOKEN }, 401, { text: 'Invalid authorization', code: 3 }],
      [{ token: 'ffffffff-0000-0000-0000-000000000000' }, 403, { text: 'Invalid token', code: 4 }],
      [{ token: OTHER }, 403, { text: 'Token disabled', code: 1 }],
    ];
    for (const [call, status, expected] of cases) {
      const res = await hec(r.url, path, body, call);
      expect([res.status, res.body], JSON.stringify(call)).toEqual([status, expected]);
    }
    expect(r.acceptedCount).toBe(0);
    expect(r.requests.byStatus).toEqual({ 401: 4, 403: 2 });
  });

  it('accepts the Splunk scheme case-insensitively and Basic auth with the token as password', async () => {
    const r = await start();
    expect((await hec(r.url, path, body, { authorization: `splunk ${TOKEN}` })).status).toBe(200);
    const basic = Buffer.from(`anyone:${TOKEN}`).toString('base64');
    expect((await hec(r.url, path, body, { authorization: `Basic ${basic}` })).status).toBe(200);
    expect(r.acceptedCount).toBe(2);
  });

  it('refuses query-string tokens (16) unless the token allows them', async () => {
    const r = await start({ tokens: { [TOKEN]: {}, [OTHER]: { allowQueryStringAuth: true } } });
    const refused = await hec(r.url, `${path}?token=${TOKEN}`, body);
    expect([refused.status, refused.body]).toEqual([
      400,
      { text: 'Query string authorization is not enabled', code: 16 },
    ]);
    const ok = await hec(r.url, `${path}?token=${OTHER}`, body);
    expect(ok.body).toEqual(SUCCESS);
    expect(r.events[0]?.token).toBe(OTHER);
  });

  it('accepts any token when none is configured', async () => {
    receiver = await startHecReceiver();
    expect((await hec(receiver.url, path, body, { token: 'whatever' })).status).toBe(200);
    expect((await hec(receiver.url, path, body)).status).toBe(401);
  });
});

describe('raw endpoint', () => {
  it('splits lines into events, with metadata from the query string', async () => {
    const r = await start({ indexes: ['main', 'web'] });
    const res = await hec(
      r.url,
      '/services/collector/raw?sourcetype=access&source=nginx&host=web-1&index=web&time=1700000000',
      'line one\nline two {"json":"ok"}\r\n\n  \nline three',
      { token: TOKEN, channel: CHANNEL },
    );
    expect(res.body).toEqual(SUCCESS);
    expect(r.events).toMatchObject([
      {
        endpoint: 'raw',
        event: 'line one',
        sourcetype: 'access',
        source: 'nginx',
        host: 'web-1',
        index: 'web',
      },
      { event: 'line two {"json":"ok"}', time: 1700000000, channel: CHANNEL },
      { event: 'line three' },
    ]);
  });

  it('requires a valid channel (10, 11) by default, and checks the index (7)', async () => {
    const r = await start({ indexes: ['main'] });
    const missing = await hec(r.url, '/services/collector/raw', 'x', { token: TOKEN });
    expect([missing.status, missing.body]).toEqual([400, { text: 'Data channel is missing', code: 10 }]);
    const invalid = await hec(r.url, '/services/collector/raw', 'x', { token: TOKEN, channel: 'chan-1' });
    expect([invalid.status, invalid.body]).toEqual([400, { text: 'Invalid data channel', code: 11 }]);
    const index = await hec(r.url, '/services/collector/raw?index=ghost', 'x', {
      token: TOKEN,
      channel: CHANNEL,
    });
    expect([index.status, index.body]).toEqual([400, { text: 'Incorrect index', code: 7 }]);
    const viaQuery = await hec(r.url, `/services/collector/raw/1.0?channel=${CHANNEL}`, 'x', {
      token: TOKEN,
      gzip: true,
    });
    expect(viaQuery.body).toEqual(SUCCESS);
    const empty = await hec(r.url, '/services/collector/raw', '\n\n', { token: TOKEN, channel: CHANNEL });
    expect(empty.body).toEqual({ text: 'No data', code: 5 });
    expect(r.acceptedCount).toBe(1);
  });

  it('can accept channel-less raw requests when rawRequiresChannel is false', async () => {
    const r = await start({ rawRequiresChannel: false });
    expect((await hec(r.url, '/services/collector/raw', 'x', { token: TOKEN })).body).toEqual(SUCCESS);
  });
});

describe('indexer acknowledgement', () => {
  const event = '{"event":"x"}';

  it('requires a channel when acks are on and numbers requests per channel', async () => {
    const r = await start({ ack: true });
    const missing = await hec(r.url, '/services/collector/event', event, { token: TOKEN });
    expect([missing.status, missing.body]).toEqual([400, { text: 'Data channel is missing', code: 10 }]);

    const ids: unknown[] = [];
    for (const channel of [CHANNEL, CHANNEL, CHANNEL_2, CHANNEL]) {
      const res = await hec(r.url, '/services/collector/event', event, { token: TOKEN, channel });
      ids.push(res.body.ackId);
    }
    expect(ids).toEqual([0, 1, 0, 2]);
    const viaQuery = await hec(r.url, `/services/collector/event?channel=${CHANNEL_2}`, event, {
      token: TOKEN,
    });
    expect(viaQuery.text).toBe('{"text":"Success","code":0,"ackId":1}');
    expect(r.events.map((e) => e.ackId)).toEqual([0, 1, 0, 2, 1]);
  });

  it('reports acks true once indexed, then forgets them', async () => {
    const r = await start({ ack: true });
    await hec(r.url, '/services/collector/event', event, { token: TOKEN, channel: CHANNEL });
    await hec(r.url, '/services/collector/raw', 'line', { token: TOKEN, channel: CHANNEL });
    const q = (acks: unknown[], channel = CHANNEL) =>
      hec(r.url, '/services/collector/ack', JSON.stringify({ acks }), { token: TOKEN, channel });
    const first = await q([0, 1, 5]);
    expect(first.status).toBe(200);
    expect(first.text).toBe('{"acks":{"0":true,"1":true,"5":false}}');
    expect((await q([0, 1])).body).toEqual({ acks: { 0: false, 1: false } });
    expect((await q([0], CHANNEL_2)).body).toEqual({ acks: { 0: false } });
  });

  it('turns acks true only after ackDelayMs', async () => {
    const r = await start({ ack: true, ackDelayMs: 1_000 });
    await hec(r.url, '/services/collector/event', event, { token: TOKEN, channel: CHANNEL });
    const q = () => hec(r.url, '/services/collector/ack', '{"acks":[0]}', { token: TOKEN, channel: CHANNEL });
    expect((await q()).body).toEqual({ acks: { 0: false } });
    expect(r.pendingAcks(CHANNEL)).toEqual([0]);
    await new Promise((res) => setTimeout(res, 1_100));
    expect((await q()).body).toEqual({ acks: { 0: true } });
    expect(r.pendingAcks(CHANNEL)).toEqual([]);
  });

  it('refuses ack queries without acks (14), without channel (10) or with a bad body (6)', async () => {
    const off = await start({ tokens: { [TOKEN]: {}, [OTHER]: { ack: true } } });
    const disabled = await hec(off.url, '/services/collector/ack', '{"acks":[0]}', {
      token: TOKEN,
      channel: CHANNEL,
    });
    expect([disabled.status, disabled.body]).toEqual([400, { text: 'ACK is disabled', code: 14 }]);
    const noChannel = await hec(off.url, '/services/collector/ack', '{"acks":[0]}', { token: OTHER });
    expect(noChannel.body).toEqual({ text: 'Data channel is missing', code: 10 });
    for (const bad of ['nope', '{"acks":"0"}', '{"acks":[-1]}', '{}']) {
      const res = await hec(off.url, '/services/collector/ack', bad, { token: OTHER, channel: CHANNEL });
      expect([res.status, res.body]).toEqual([400, { text: 'Invalid data format', code: 6 }]);
    }
  });

  it('gives no ackId to a refused batch', async () => {
    const r = await start({ ack: true });
    const res = await hec(r.url, '/services/collector/event', '{"event":"a"}{"x":1}', {
      token: TOKEN,
      channel: CHANNEL,
    });
    expect(res.body).toEqual({ text: 'Event field is required', code: 12, 'invalid-event-number': 1 });
    expect(r.events[0]?.ackId).toBeUndefined();
    const next = await hec(r.url, '/services/collector/event', event, { token: TOKEN, channel: CHANNEL });
    expect(next.body.ackId).toBe(0);
  });
});

describe('recording options', () => {
  it('keepEvents false counts only, still calling onEvent and recording ids', async () => {
    const seen: unknown[] = [];
    const r = await start({
      keepEvents: false,
      onEvent: (e) => seen.push(e.event),
      eventId: (e) => (e.event as { id?: string }).id,
    });
    const body = batch([{ event: { id: 'a' } }, { event: { id: 'b' } }, { event: { noId: true } }]);
    await hec(r.url, '/services/collector/event', body, { token: TOKEN });
    await hec(r.url, '/services/collector/event', batch([{ event: { id: 'b' } }]), { token: TOKEN });
    expect(r.events).toEqual([]);
    expect(r.acceptedCount).toBe(4);
    expect(seen).toHaveLength(4);
    expect(r.ids).toEqual(['a', 'b', 'b']);
    expect(r.idCounts.get('b')).toBe(2);
    expect(r.duplicateIds()).toEqual(['b']);
  });

  it('waitForEvents resolves on arrival and rejects on timeout', async () => {
    const r = await start();
    const waiting = r.waitForEvents(3, 2_000);
    await hec(r.url, '/services/collector/event', batch([{ event: 1 }, { event: 2 }]), { token: TOKEN });
    await hec(r.url, '/services/collector/event', batch([{ event: 3 }]), { token: TOKEN });
    expect((await waiting).map((e) => e.event)).toEqual([1, 2, 3]);
    await expect(r.waitForEvents(10, 50)).rejects.toThrow(/waited 50 ms for 10 events, got 3/);
  });

  it('reset() clears events, counters, acks and faults', async () => {
    const r = await start({ ack: true });
    await hec(r.url, '/services/collector/event', '{"event":1}', { token: TOKEN, channel: CHANNEL });
    r.faults.busy();
    const eventsRef = r.events;
    r.reset();
    expect(eventsRef).toHaveLength(0);
    expect(r.acceptedCount).toBe(0);
    expect(r.requests).toMatchObject({ count: 0, bytes: 0, byStatus: {} });
    expect(r.faults.active).toEqual([]);
    expect(r.faults.counts.busy).toBe(0);
    const res = await hec(r.url, '/services/collector/event', '{"event":1}', {
      token: TOKEN,
      channel: CHANNEL,
    });
    expect(res.body).toEqual({ ...SUCCESS, ackId: 0 });
  });

  it('counts requests, bytes and statuses', async () => {
    const r = await start();
    await hec(r.url, '/services/collector/event', '{"event":"abc"}', { token: TOKEN });
    await hec(r.url, '/services/collector/event', '{"event":"abc"}');
    await hec(r.url, '/services/collector/health');
    expect(r.requests).toMatchObject({ count: 3, bytes: 30, byStatus: { 200: 2, 401: 1 } });
    expect(r.requests.byEndpoint).toEqual({ event: 2, health: 1 });
  });
});
