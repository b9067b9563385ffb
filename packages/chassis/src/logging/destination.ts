import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** Batchers holding lines not yet written; written synchronously if the process exits first. */
const pending = new Set<LineBatcher>();
let exitHook = false;

const INITIAL_BYTES = 64 * 1024;
/** A batch this large is written at once, not at the end of the turn. */
const MAX_BATCH_BYTES = 1024 * 1024;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A log destination that writes the lines of one event-loop turn to a file descriptor with one
 * synchronous write, at the end of the turn (setImmediate), instead of one write per line.
 *
 * pino's default destination writes every line synchronously (a syscall per line); its
 * asynchronous mode buffers, but each flush goes through the libuv thread pool (wake-ups on two
 * threads) and measures the UTF-8 length of the whole pending buffer on every line. Here each line
 * is encoded into one reused buffer as it is logged, while its pieces are still in the CPU's
 * cache (joining a turn's lines into one string and encoding that at the end cost several times
 * more under load), lines reach the descriptor within the turn that logged them (no buffer waiting
 * for more traffic), and an exiting process writes what is left.
 *
 * Like pino's default, a full pipe (EAGAIN) blocks the process rather than growing memory. Any
 * other write error (stdout closed) drops the lines and says so once on stderr: losing log output
 * must not take the service down.
 */
export class LineBatcher implements DestinationStream {
  readonly #fd: number;
  #buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  #length = 0;
  #writes = 0;
  #failed = false;

  constructor(fd: number) {
    this.#fd = fd;
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const batcher of pending) batcher.flushSync();
      });
    }
  }

  /** write(2) calls so far (one per turn that logged, plus one per full batch). */
  get writes(): number {
    return this.#writes;
  }

  write(line: string): void {
    if (this.#failed) return;
    if (this.#length === 0) {
      pending.add(this);
      setImmediate(this.#writeOut);
    }
    // a UTF-16 code unit takes at most 3 bytes of UTF-8
    if (this.#length + line.length * 3 > this.#buffer.length) this.#makeRoom(line.length * 3);
    this.#length += this.#buffer.write(line, this.#length);
  }

  #makeRoom(bytes: number): void {
    if (this.#length + bytes > MAX_BATCH_BYTES) this.#writeOut();
    const needed = this.#length + bytes;
    if (needed <= this.#buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2));
    this.#buffer.copy(bigger, 0, 0, this.#length);
    this.#buffer = bigger;
  }

  readonly #writeOut = (): void => {
    const length = this.#length;
    if (length === 0) return;
    this.#length = 0;
    pending.delete(this);
    this.#writes++;
    const buffer = this.#buffer;
    // one oversized line must not pin its buffer for the life of the process
    if (buffer.length > MAX_BATCH_BYTES) this.#buffer = Buffer.allocUnsafe(INITIAL_BYTES);
    let offset = 0;
    while (offset < length) {
      try {
        offset += writeSync(this.#fd, buffer, offset, length - offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        this.#failed = true;
        process.stderr.write(`log destination (fd ${this.#fd}) failed, dropping log lines: ${String(err)}\n`);
        return;
      }
    }
  };

  /** Write what is pending now; `cb` runs on the next tick, once it is written. */
  flush(cb?: (err?: Error) => void): void {
    this.#writeOut();
    if (cb) process.nextTick(cb);
  }

  flushSync(): void {
    this.#writeOut();
  }

  end(): void {
    this.#writeOut();
  }
}

/** The default destination: stdout, one synchronous write per event-loop turn. */
export function stdoutDestination(): LineBatcher {
  return new LineBatcher(1);
}
