// The example of packages/testkit/docs/hec.md, kept runnable. Keep the two in step.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type HecReceiver, startHecReceiver } from './index.js'; // '@fleet/testkit' outside this package

const TOKEN = '12345678-1234-1234-1234-1234567890ab';
let hec: HecReceiver;

beforeAll(async () => {
  hec = await startHecReceiver({
    tokens: { [TOKEN]: { indexes: ['app', 'audit'], defaultIndex: 'app' } },
    eventId: (e) => (e.event as { id?: string }).id, // for exactly-once checks
  });
});
afterAll(() => hec.close());

const send = (body: string) =>
  fetch(`${hec.url}/services/collector/event`, {
    method: 'POST',
    headers: { Authorization: `Splunk ${TOKEN}`, 'Content-Encoding': 'gzip' },
    body: gzipSync(body),
  });

it('receives a batch, refuses while busy, and counts duplicates', async () => {
  const batch = '{"event":{"id":"a"},"sourcetype":"alf"}\n{"event":{"id":"b"},"index":"audit"}';

  expect(await (await send(batch)).json()).toEqual({ text: 'Success', code: 0 });
  expect(hec.events.map((e) => [e.index, e.sourcetype])).toEqual([
    ['app', 'alf'],
    ['audit', 'httpevent'],
  ]);

  hec.faults.busy({ times: 1 }); // next request: 503 {"text":"Server is busy","code":9}
  expect((await send(batch)).status).toBe(503);
  expect(hec.acceptedCount).toBe(2); // refused events are not recorded

  await send(batch); // the client's retry
  await hec.waitForEvents(4, 1_000);
  expect(hec.duplicateIds()).toEqual(['a', 'b']); // resent after a success: at-least-once
});
