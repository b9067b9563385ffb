import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { tempHome } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = tempHome();
afterAll(() => dir.remove());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

it('prints the ready banner once, and Ctrl-C stops every child and closes every port', async () => {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI], {
    env: { ...process.env, DEMO_HOME: dir.home, DATABASE_URL: '', KAFKA_BROKERS: '', HEC_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await expect
    .poll(() => stdout, { timeout: 150_000, interval: 200 })
    .toMatch(/Fleet demo ready in [\d.]+ s/);
  console.info(`CLI ready after ${Math.round(performance.now() - started)} ms (process spawn included)`);

  expect(stdout.match(/Fleet demo ready/g)).toHaveLength(1);
  expect(stdout).toMatch(/export TOKEN=\$\(cat .*admin\.token\)/);
  const pids = [...stdout.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
  const ports = [...stdout.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  const broker = /kafka\s+127\.0\.0\.1:(\d+)/.exec(stdout);
  if (broker) ports.push(Number(broker[1]));
  expect(pids.length).toBeGreaterThanOrEqual(4);
  expect(ports.length).toBeGreaterThanOrEqual(7); // services, HEC, fake API, broker
  for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(true);
  for (const port of new Set(ports)) expect(await portOpen(port), `port ${port}`).toBe(true);

  child.kill('SIGINT');
  expect(await exited, stderr).toBe(0);
  for (const pid of pids) expect(alive(pid), `pid ${pid} still running`).toBe(false);
  for (const port of new Set(ports)) expect(await portOpen(port), `port ${port} still open`).toBe(false);
  // a clean stop: no service had to be killed or exited on a second signal
  expect(stderr).not.toMatch(/second signal|SIGKILL/);
}, 180_000);
