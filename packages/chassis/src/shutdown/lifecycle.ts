export type ShutdownHook = () => Promise<unknown> | unknown;

export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

interface NamedHook {
  name: string;
  fn: ShutdownHook;
}

/**
 * Shutdown hooks run in reverse order of registration (last started, first stopped), each
 * isolated: one failing hook is logged and the others still run.
 */
export class ShutdownHooks {
  readonly #hooks: NamedHook[] = [];

  add(name: string, fn: ShutdownHook): void {
    this.#hooks.push({ name, fn });
  }

  async runAll(log: ShutdownLogger): Promise<void> {
    for (const hook of this.#hooks.splice(0).reverse()) {
      try {
        await hook.fn();
      } catch (err) {
        log.error({ err, hook: hook.name }, 'shutdown hook failed');
      }
    }
  }
}

export interface SignalHandlingOptions {
  /** Graceful stop; resolves when done. */
  stop: () => Promise<void>;
  /** Exit if the graceful stop has not finished by then. */
  timeoutMs: number;
  log: ShutdownLogger;
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

/**
 * SIGTERM/SIGINT start a graceful stop and exit 0 when it is done, 1 if it misses the deadline or
 * fails; a second signal exits at once (130). Returns a function that removes the handlers.
 */
export function handleShutdownSignals(options: SignalHandlingOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.error({ signal }, 'second signal: exiting immediately');
      exit(130);
      return;
    }
    stopping = true;
    options.log.info({ signal, timeout_ms: options.timeoutMs }, 'shutdown started');
    const deadline = setTimeout(() => {
      options.log.error({ timeout_ms: options.timeoutMs }, 'shutdown deadline exceeded: exiting');
      exit(1);
    }, options.timeoutMs);
    deadline.unref();
    options.stop().then(
      () => {
        clearTimeout(deadline);
        exit(0);
      },
      (err) => {
        clearTimeout(deadline);
        options.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
