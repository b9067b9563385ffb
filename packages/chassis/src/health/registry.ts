export type HealthCheckFn = (signal: AbortSignal) => Promise<unknown> | unknown;

export interface HealthCheckOptions {
  /** A failing critical check makes the service unready (default true). */
  critical?: boolean;
  /** Timeout for one run of the check, ms (default: config health.checkTimeoutMs). */
  timeoutMs?: number;
}

export interface CheckResult {
  status: 'pass' | 'fail';
  critical: boolean;
  duration_ms: number;
  error?: string;
  details?: unknown;
}

export interface ReadinessReport {
  status: 'ready' | 'unready';
  reason?: string;
  checks: Record<string, CheckResult>;
}

interface RegisteredCheck {
  fn: HealthCheckFn;
  critical: boolean;
  timeoutMs: number;
}

/** Named readiness checks, run concurrently with a timeout each. */
export class HealthRegistry {
  readonly #checks = new Map<string, RegisteredCheck>();
  #shuttingDown = false;

  constructor(private readonly defaultTimeoutMs = 2000) {}

  addCheck(name: string, fn: HealthCheckFn, options: HealthCheckOptions = {}): void {
    if (this.#checks.has(name)) throw new Error(`health check '${name}' is already registered`);
    this.#checks.set(name, {
      fn,
      critical: options.critical ?? true,
      timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs,
    });
  }

  removeCheck(name: string): boolean {
    return this.#checks.delete(name);
  }

  /** From now on readiness reports 503: the service is shutting down. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async readiness(): Promise<ReadinessReport> {
    const entries = [...this.#checks.entries()];
    const results = await Promise.all(entries.map(([, check]) => runCheck(check)));
    const checks: Record<string, CheckResult> = {};
    let ready = !this.#shuttingDown;
    entries.forEach(([name], i) => {
      const result = results[i]!;
      checks[name] = result;
      if (result.critical && result.status === 'fail') ready = false;
    });
    return {
      status: ready ? 'ready' : 'unready',
      ...(this.#shuttingDown ? { reason: 'shutting down' } : {}),
      checks,
    };
  }
}

async function runCheck(check: RegisteredCheck): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${check.timeoutMs} ms`));
    }, check.timeoutMs);
  });
  const base = { critical: check.critical };
  try {
    const details = await Promise.race([Promise.resolve().then(() => check.fn(controller.signal)), timeout]);
    // A check may report failure by returning false instead of throwing
    if (details === false)
      return { ...base, status: 'fail', duration_ms: elapsed(started), error: 'check returned false' };
    return {
      ...base,
      status: 'pass',
      duration_ms: elapsed(started),
      ...(details !== undefined && details !== true ? { details } : {}),
    };
  } catch (err) {
    return {
      ...base,
      status: 'fail',
      duration_ms: elapsed(started),
      error: (err as Error).message ?? String(err),
      // A check may attach what it found to the error it throws
      ...((err as { details?: unknown })?.details !== undefined
        ? { details: (err as { details: unknown }).details }
        : {}),
    };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
