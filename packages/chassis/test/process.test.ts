import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/server.mjs', import.meta.url));

interface Running {
  child: ChildProcess;
  url: string;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function spawnFixture(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function startFixture(env: Record<string, string> = {}): Promise<Running> {
  const child = spawnFixture({ REQUIRED_THING: 'x', ...env });
  const lines: Array<Record<string, unknown>> = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let buffer = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) {
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        if (line.msg === 'service started') resolve(line.url as string);
      }
    });
    exited.then((code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  return { child, url, lines, exited };
}

describe('process lifecycle (child process)', () => {
  it('exits 78 listing every config problem on stderr', async () => {
    const child = spawnFixture({ PORT: 'nope', LOG_LEVEL: 'chatty', SLOW_MS: '-1' });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(78);
    expect(stderr).toMatch(/^fixture: Invalid configuration \(4 problems\):/);
    for (const key of ['port', 'log.level', 'slowMs', 'requiredThing']) expect(stderr).toContain(`- ${key}:`);
  });

  it('exits 78 on a ConfigError raised while routes boot', async () => {
    const child = spawnFixture({ REQUIRED_THING: 'x', FAIL_IN_ROUTES: '1' });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(78);
    expect(stderr).toContain('- plugins.x: rejected while booting');
  });

  it('SIGTERM drains an in-flight request, runs hooks in reverse order, exits 0', async () => {
    const { child, url, lines, exited } = await startFixture({ SLOW_MS: '600' });
    const inflight = fetch(`${url}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGTERM');
    const response = await inflight;
    expect(response).toEqual({ status: 200, body: { done: true } });
    expect(await exited).toBe(0);
    const messages = lines.map((l) => l.msg);
    const slowHook = messages.indexOf('hook slow ran');
    const firstHook = messages.indexOf('hook first-registered ran');
    expect(messages).toContain('shutdown started');
    expect(slowHook).toBeGreaterThan(-1);
    expect(firstHook).toBeGreaterThan(slowHook);
    expect(messages.at(-1)).toBe('service stopped');
  });

  it('refuses new work once shutdown began', async () => {
    const { child, url, exited } = await startFixture({ SLOW_MS: '800' });
    const inflight = fetch(`${url}/slow`);
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const late = await fetch(`${url}/health/ready`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    expect((await inflight).status).toBe(200);
    expect(await exited).toBe(0);
  });

  it('a second signal exits at once', async () => {
    const { child, exited } = await startFixture({ HOOK_MS: '10000' });
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('exits 1 when graceful shutdown misses its deadline', async () => {
    const { child, exited, lines } = await startFixture({ HOOK_MS: '10000', SHUTDOWN_TIMEOUT_MS: '300' });
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(lines.some((l) => l.msg === 'shutdown deadline exceeded: exiting')).toBe(true);
  });
});
