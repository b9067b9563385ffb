import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../src/index.js';
import { call, tempHome } from './helpers.js';
import {
  changeLogLevel,
  createAndDeployIndex,
  cursorAdvances,
  flipFloodFlag,
  throttleFlood,
  urls,
} from './walkthrough.js';

// One stack (embedded Kafka, HEC receiver, PGlite) for the whole file.
const dir = tempHome();
const lines: string[] = [];
let demo: Demo;

beforeAll(async () => {
  demo = await startDemo({
    home: dir.home,
    output: (line) => lines.push(line),
    feedEveryMs: 500,
    pollEvery: '1s',
  });
  console.info(
    `demo ready in ${demo.readyMs} ms (embedded, console: ${demo.services.console ? 'yes' : 'no'})`,
  );
}, 180_000);
afterAll(async () => {
  await demo?.stop();
  dir.remove();
}, 30_000);

describe('startDemo with embedded infrastructure', () => {
  it('runs every service, ready, with the tokens written to the home', async () => {
    for (const name of ['index-provisioner', 'plugin-runner', 'alf', 'log-generator'] as const) {
      const service = demo.services[name];
      expect(service, name).toBeDefined();
      expect((await fetch(`${service?.url}/health/ready`)).status, name).toBe(200);
    }
    for (const name of ['admin', 'read', 'team'] as const)
      expect(readFileSync(join(dir.home, `${name}.token`), 'utf8').trim()).toBe(demo.tokens[name]);
    expect(demo.kafka.embedded && demo.hec.embedded).toBe(true);
    if (!demo.services.console) expect(demo.consoleSkipped).toMatch(/console/);
    else expect(demo.consoleUrl).toContain(`#token=${demo.tokens.admin}`);
  });

  it('forwards logs to the HEC receiver', async () => {
    await expect.poll(() => demo.hec.accepted() ?? 0, { timeout: 20_000 }).toBeGreaterThan(1000);
  });

  it('walkthrough 1: a flag flipped centrally is seen by log-generator', () => flipFloodFlag(demo), 30_000);
  it('walkthrough 2: throttling chatty-search makes ALF count drops', () => throttleFlood(demo), 40_000);
  it('walkthrough 3: a log level changes at runtime', () => changeLogLevel(demo));
  it(
    'walkthrough 4: an index is created and deployed to the directory target',
    () => createAndDeployIndex(demo),
    30_000,
  );
  it("walkthrough 5: the plugin's cursor advances", () => cursorAdvances(demo), 45_000);

  it('gives the read-only token no write access', async () => {
    const u = urls(demo);
    const denied = await call(`${u.loggen}/admin/loggen`, demo.tokens.read, {
      method: 'PUT',
      body: { rate: 1 },
    });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'insufficient_scope' });
    const index = await call(`${u.indexes}/v1/indexes`, demo.tokens.read, {
      method: 'POST',
      body: {
        name: 'nope',
        datatype: 'event',
        retention: { days: 1 },
        maxTotalDataSizeMB: 10,
        owner: 'payments',
        cluster: 'dev',
      },
    });
    expect(index.status).toBe(403);
    expect(existsSync(join(dir.home, 'index-provisioner'))).toBe(true);
  });

  it('printed no warnings at start beyond the ones the walkthrough caused', () => {
    const unexpected = lines.filter((line) => !/flag changed|log level changed|log rates changed/.test(line));
    expect(unexpected).toEqual([]);
  });
});
