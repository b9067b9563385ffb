import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WATCHDOG_IMPORT } from './watchdog.js';

/** Where the launcher writes what it has to say (children's warnings, progress). */
export type Output = (line: string) => void;

/** Warnings every start produces and nobody needs to act on (still kept for the error tail). */
const EXPECTED = new Set(['flag is not in the flag store: using the default declared in code']);
const NUMERIC_LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** Routes the launcher polls itself: their 503s while a service starts are expected. */
const PROBES = new Set(['/health/ready', '/health/live']);
const TAIL = 30;

/** One service running as a child process, its output filtered and prefixed by its name. */
export class ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  readonly exited: Promise<number | null>;
  /** Messages hidden for now (e.g. "flag store unreachable" while the console is still starting). */
  readonly quiet = new Set<string>();
  #exitCode: number | null | undefined;
  readonly #spawnedAt = performance.now();
  /** Milliseconds from spawn to the first ready answer. */
  readyMs: number | undefined;

  constructor(name: string, url: string, entry: string, env: NodeJS.ProcessEnv, output: Output) {
    this.name = name;
    this.url = url;
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which then sends one SIGTERM
    // (a chassis service treats a second signal as "exit now", skipping its graceful shutdown).
    this.#child = spawn(process.execPath, ['--import', WATCHDOG_IMPORT, entry], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const width = 18;
    const prefix = `[${name}]`.padEnd(width);
    const onLine = (line: string) => {
      if (line.trim() === '') return;
      this.#tail.push(line);
      if (this.#tail.length > TAIL) this.#tail.shift();
      const shown = readable(line, this.quiet);
      if (shown !== undefined) output(`${prefix} ${shown}`);
    };
    for (const stream of [this.#child.stdout, this.#child.stderr])
      if (stream) createInterface({ input: stream }).on('line', onLine);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? null : 0);
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last lines the child wrote, unfiltered (for errors). */
  tail(): string[] {
    return [...this.#tail];
  }

  /** Polls `/health/ready` until it answers 200; rejects naming the service and its last output. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      if (!this.running) throw this.#failure(`exited with code ${this.#exitCode} before it was ready`);
      try {
        const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) {
          this.readyMs = Math.round(performance.now() - this.#spawnedAt);
          return;
        }
        last = `${res.status} ${(await res.text()).slice(0, 500)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw this.#failure(`not ready after ${Math.round(timeoutMs / 1000)} s (last /health/ready: ${last})`);
  }

  #failure(what: string): Error {
    const lines = this.tail().slice(-15);
    return new Error(
      `${this.name} ${what}.${lines.length ? `\nIts last output lines:\n  ${lines.join('\n  ')}` : ' It wrote nothing.'}`,
    );
  }

  /** SIGTERM, then SIGKILL after `graceMs` if it is still running. Resolves once it has exited. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) this.#child.kill('SIGKILL');
  }
}

/**
 * A pino JSON line as `WARN message {details}` (the child's LOG_LEVEL decides what it writes, so a
 * level raised at runtime shows here); probe access lines and expected start-up notices are hidden.
 */
function readable(line: string, quiet: ReadonlySet<string>): string | undefined {
  if (!line.startsWith('{')) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const text = record.msg as string;
  if (EXPECTED.has(text) || quiet.has(text) || PROBES.has(record.route as string)) return undefined;
  const { level, msg, time: _t, service: _s, version: _v, hostname: _h, pid: _p, ...rest } = record;
  const label =
    typeof level === 'number' ? (NUMERIC_LEVELS[level] ?? String(level)) : String(level).toUpperCase();
  const details = Object.keys(rest).length ? ` ${JSON.stringify(rest).slice(0, 400)}` : '';
  return `${label} ${String(msg ?? '')}${details}`;
}
