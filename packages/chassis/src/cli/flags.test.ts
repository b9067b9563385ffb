import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestService } from '../flags/test-helpers.js';
import type { Service } from '../service.js';
import { type CliIo, main } from './flags.js';

const CLI = fileURLToPath(new URL('./flags.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process (fast) with its own environment. */
async function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Run the CLI as a separate process, the way an operator does. */
function spawnCli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { cwd: PACKAGE_DIR, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('fleet-flags CLI', () => {
  let service: Service;
  let url: string;
  let token: string;

  beforeAll(async () => {
    ({ service } = await startTestService({ FLAGS_OVERRIDES: '{"cli.forced": 10000}' }));
    url = (await service.start()).adminUrl;
    token = await adminToken('ops-oncall');
  });
  afterAll(() => service.stop());

  it('sets a flag from a percentage and reports the change', async () => {
    const result = await run([
      'set',
      'cli.ranker',
      '25%',
      '--url',
      url,
      '--token',
      token,
      '--owner',
      'search',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe('cli.ranker: - -> 2500 (25%)\n');
    expect(service.flags.get('cli.ranker')).toMatchObject({
      value: 2500,
      owner: 'search',
      updatedBy: 'ops-oncall',
    });
    const again = await run(['set', 'cli.ranker', '1000', '--url', url, '--token', token]);
    expect(again.stdout).toBe('cli.ranker: 2500 (25%) -> 1000 (10%)\n');
  });

  it('lists flags as a table or JSON, and reads one flag', async () => {
    const table = await run(['list', '--url', url, '--token', token]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('store: memory');
    expect(lines[1]).toMatch(/^NAME\s+VALUE\s+PERCENT\s+SOURCE\s+OWNER\s+UPDATED\s+BY\s+DESCRIPTION$/);
    expect(lines.find((l) => l.startsWith('cli.ranker'))).toMatch(
      /^cli\.ranker\s+1000\s+10%\s+store\s+search\s+\d{4}-/,
    );
    expect(lines.find((l) => l.startsWith('cli.forced'))).toMatch(
      /^cli\.forced\s+10000\s+100%\s+override\s+-/,
    );

    const json = await run(['list', '--json'], { FLEET_URL: url, FLEET_TOKEN: token });
    const body = JSON.parse(json.stdout);
    expect(body.flags.map((f: { name: string }) => f.name)).toEqual(['cli.forced', 'cli.ranker']);

    const one = await run(['get', 'cli.ranker', '-u', url, '-t', token]);
    expect(one.stdout).toContain('value        1000 (10%)');
    expect(one.stdout).toContain('updated by   ops-oncall');
  });

  it('fails with a clear message and exit code 1 on HTTP errors', async () => {
    const missing = await run(['get', 'no.such.flag', '--url', url, '--token', token]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `fleet-flags: GET ${url}/admin/flags/no.such.flag: HTTP 404: no flag named 'no.such.flag' (flag_not_found)\n`,
    );
    const unauthenticated = await run(['list', '--url', url]);
    expect(unauthenticated.code).toBe(1);
    expect(unauthenticated.stderr).toContain('HTTP 401: missing bearer token (invalid_token)');
    const port = await freePort();
    const unreachable = await run(['list', '--url', `http://127.0.0.1:${port}`, '--token', token]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(
      `fleet-flags: cannot reach http://127.0.0.1:${port}/admin/flags: ECONNREFUSED\n`,
    );
  });

  it('rejects bad usage with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: fleet-flags/],
      [['list'], /no service URL: pass --url or set FLEET_URL/],
      [['set', 'a.b', '150%', '--url', url], /invalid flag value "150%"/],
      [['set', 'a.b', '--url', url], /missing value/],
      [['get', 'Bad Name', '--url', url], /invalid flag name 'Bad Name'/],
      [['frobnicate', '--url', url], /unknown command 'frobnicate'/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  it('deletes a flag', async () => {
    const result = await run(['delete', 'cli.ranker', '--url', url, '--token', token]);
    expect(result).toMatchObject({ code: 0, stdout: 'cli.ranker: deleted\n' });
    expect(service.flags.get('cli.ranker')).toBeUndefined();
  });

  it('works as a separate process, with its exit code', async () => {
    const env = { FLEET_URL: url, FLEET_TOKEN: token };
    const set = await spawnCli(['set', 'cli.spawned', '0.5%'], env);
    expect(set).toMatchObject({ code: 0, stdout: 'cli.spawned: - -> 50 (0.5%)\n' });
    expect(service.flags.value('cli.spawned')).toBe(50);
    const failed = await spawnCli(['get', 'cli.nothing'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('HTTP 404');
  });
});
