import pino, { type DestinationStream } from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/** Batchers holding lines not yet written; written synchronously if the process exits first. */
const pending = new Set<LineBatcher>();
let exitHook = false;

/**
 * A log destination that writes the lines of one event-loop turn with one synchronous write, at
 * the end of the turn (setImmediate), instead of one write per line.
 *
 * pino's default destination writes every line synchronously (a syscall per line); its
 * asynchronous mode buffers, but each flush goes through the libuv thread pool (wake-ups on two
 * threads) and measures the UTF-8 length of the whole pending buffer on every line. Batching per
 * turn keeps one plain write(2) per burst of requests, lines reach stdout within the turn that
 * logged them (no buffer waiting for more traffic), and an exiting process writes what is left.
 * Like pino's default, a full stdout pipe blocks the process rather than growing memory.
 */
export class LineBatcher implements DestinationStream {
  readonly #target: SonicBoom;
  #lines = '';

  constructor(target: SonicBoom) {
    this.#target = target;
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const batcher of pending) batcher.flushSync();
      });
    }
  }

  write(line: string): void {
    if (this.#lines === '') {
      pending.add(this);
      setImmediate(this.#writeOut);
    }
    this.#lines += line;
  }

  readonly #writeOut = (): void => {
    if (this.#lines === '') return;
    const data = this.#lines;
    this.#lines = '';
    pending.delete(this);
    this.#target.write(data);
  };

  /** Write what is pending now; `cb` runs once it is written. */
  flush(cb?: (err?: Error) => void): void {
    this.#writeOut();
    this.#target.flush(cb);
  }

  flushSync(): void {
    this.#writeOut();
    try {
      this.#target.flushSync();
    } catch {
      // closed or not open: nothing more can be done
    }
  }

  end(): void {
    this.#writeOut();
    this.#target.end();
  }
}

/** The default destination: stdout, one synchronous write per event-loop turn. */
export function stdoutDestination(): LineBatcher {
  return new LineBatcher(pino.destination({ dest: 1, sync: true, minLength: 0 }));
}
