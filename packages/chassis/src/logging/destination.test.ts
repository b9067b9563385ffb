import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LineBatcher } from './destination.js';

const loggerModule = new URL('./logger.ts', import.meta.url).pathname;

/** Run a script (tsx, so it can import the TypeScript sources) and collect its stdout over time. */
function run(
  script: string,
): Promise<{ chunks: Array<{ at: number; text: string }>; code: number | null; closedAt: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Array<{ at: number; text: string }> = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => chunks.push({ at: Date.now() - started, text }));
    child.on('error', reject);
    child.on('close', (code) => resolve({ chunks, code, closedAt: Date.now() - started }));
  });
}

describe('LineBatcher', () => {
  function fileBatcher(): { batcher: LineBatcher; file: string; fd: number } {
    const dir = mkdtempSync(join(tmpdir(), 'batcher-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    return { batcher: new LineBatcher(fd), file, fd };
  }

  it('hands lines over in order, in one write per event-loop turn', async () => {
    const { batcher, file, fd } = fileBatcher();
    for (let i = 0; i < 100; i++) batcher.write(`line ${i}\n`);
    expect(batcher.writes).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    expect(batcher.writes).toBe(1);
    batcher.write('last\n');
    batcher.flushSync();
    expect(batcher.writes).toBe(2);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toEqual([...Array.from({ length: 100 }, (_, i) => `line ${i}`), 'last']);
    closeSync(fd);
  });

  it('writes non-ASCII text as UTF-8, and batches larger than its buffer whole and in order', () => {
    const { batcher, file, fd } = fileBatcher();
    const text = 'Grüße, 日本語, emoji 🚀, ümlaut';
    const long = 'x'.repeat(200_000);
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const line = `${i} ${i % 3 === 0 ? long : text}\n`;
      written.push(line);
      batcher.write(line);
    }
    batcher.flushSync();
    expect(readFileSync(file, 'utf8')).toBe(written.join(''));
    // 30 lines of up to 200 kB: written in more than one batch, each at most ~1 MiB
    expect(batcher.writes).toBeGreaterThan(1);
    closeSync(fd);
  });

  it('drops lines, without throwing, when its descriptor fails', () => {
    const fd = openSync(join(mkdtempSync(join(tmpdir(), 'batcher-')), 'ro.log'), 'w');
    closeSync(fd);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const batcher = new LineBatcher(fd);
    batcher.write('lost\n');
    expect(() => batcher.flushSync()).not.toThrow();
    batcher.write('also lost\n');
    batcher.flushSync();
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(
      /log destination \(fd \d+\) failed, dropping log lines: .*EBADF/,
    );
    stderr.mockRestore();
  });

  it('writes a quiet service’s lines at once, without waiting for more output', async () => {
    const { chunks, closedAt } = await run(`
      import { createLogger } from ${JSON.stringify(loggerModule)};
      const log = createLogger({ service: 's', version: '1', level: 'info' });
      log.info('only line');
      setTimeout(() => {}, 2000);
    `);
    const first = chunks[0];
    expect(first?.text).toContain('"msg":"only line"');
    // the process lives 2 s after logging; the line arrives long before it exits
    expect(closedAt - (first?.at ?? closedAt)).toBeGreaterThan(1000);
  });

  it('flushes what is pending when the process exits at once', async () => {
    const { chunks, code } = await run(`
      import { createLogger } from ${JSON.stringify(loggerModule)};
      const log = createLogger({ service: 's', version: '1', level: 'info' });
      for (let i = 0; i < 500; i++) log.info({ i }, 'burst');
      process.exit(3);
    `);
    expect(code).toBe(3);
    const lines = chunks
      .map((c) => c.text)
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});
