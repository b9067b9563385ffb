import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, startFakeApi } from '../src/index.js';
import { freePorts } from '../src/ports.js';
import { WATCHDOG_IMPORT } from '../src/watchdog.js';

describe('fake third-party API', () => {
  let api: FakeApi;
  beforeAll(async () => {
    const [port] = await freePorts(1, '127.0.0.1');
    api = await startFakeApi({ port: port as number, host: '127.0.0.1', initial: 5, everyMs: 100 });
  });
  afterAll(() => api.close());

  it('pages by cursor, oldest first, and publishes new items over time', async () => {
    const page = async (after: number, limit = 20) =>
      (await (await fetch(`${api.url}/items?after=${after}&limit=${limit}`)).json()) as {
        items: Array<{ id: number; timestamp: string; level: string; message: string }>;
      };
    const first = await page(0, 3);
    expect(first.items).toHaveLength(3);
    const ids = first.items.map((i) => i.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const last = ids[2] as number;
    const next = await page(last);
    expect(next.items[0]?.id).toBe(last + 1);
    const newest = next.items.at(-1)?.id ?? last;
    await expect.poll(async () => (await page(newest)).items.length, { timeout: 2000 }).toBeGreaterThan(0);
    expect(api.count()).toBeGreaterThan(5);
  });

  it('refuses bad cursors with a machine-readable 400', async () => {
    const res = await fetch(`${api.url}/items?after=abc`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request' });
    expect((await fetch(`${api.url}/nope`)).status).toBe(404);
  });
});

describe('freePorts', () => {
  it('gives distinct ports, consecutive from a base when they are free', async () => {
    const ports = await freePorts(3, '127.0.0.1');
    expect(new Set(ports).size).toBe(3);
    const [base] = await freePorts(1, '127.0.0.1');
    const from = await freePorts(2, '127.0.0.1', base);
    expect(from[0]).toBeGreaterThanOrEqual(base as number);
    expect(from[1]).toBeGreaterThan(from[0] as number);
  });
});

describe('watchdog', () => {
  it('stops a child with SIGTERM once its launcher was SIGKILLed', async () => {
    // a "launcher" that spawns a "service" with the watchdog preloaded, prints its pid, then waits
    const service = `process.on('SIGTERM', () => process.exit(0)); console.log('up'); setInterval(() => {}, 1000);`;
    const launcher = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, ['--import', ${JSON.stringify(WATCHDOG_IMPORT)}, '-e', ${JSON.stringify(service)}], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
      child.stdout.once('data', () => console.log(child.pid)); // once it runs, watchdog loaded
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', launcher], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (d) => resolve(Number(String(d)))),
    );
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    parent.kill('SIGKILL');
    await expect.poll(alive, { timeout: 8000 }).toBe(false);
  }, 20_000);
});
