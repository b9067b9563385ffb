/**
 * Per-partition bookkeeping of taken and finished messages. Messages may finish out of order
 * (concurrent handlers); the committable offset is always the first unfinished one, so a commit
 * never skips over a message still being processed.
 */
export class OffsetTracker {
  /** Taken offsets in the order taken (ascending); [head, length) are the unfinished-or-blocked ones. */
  #taken: number[] = [];
  #head = 0;
  readonly #finished = new Set<number>();
  /** One past the last offset taken or skipped: where the next message must start. */
  #position = -1;

  /** One past the last offset taken or skipped (-1 before the first message). */
  get position(): number {
    return this.#position;
  }

  /** Messages taken and not finished. */
  get inFlight(): number {
    return this.#taken.length - this.#head;
  }

  /** True when `offset` was already taken or skipped (a redelivery after a rebalance). */
  seen(offset: number): boolean {
    return offset < this.#position;
  }

  /** Take a message; false when it was already taken or skipped. */
  take(offset: number): boolean {
    if (offset < this.#position) return false;
    this.#taken.push(offset);
    this.#position = offset + 1;
    return true;
  }

  /** Mark a taken message finished (handled, or dead-lettered). */
  finish(offset: number): void {
    this.#finished.add(offset);
    while (this.#head < this.#taken.length && this.#finished.delete(this.#taken[this.#head]!)) this.#head++;
    // Keep the array small without shifting on every message
    if (this.#head > 1024 && this.#head * 2 > this.#taken.length) {
      this.#taken = this.#taken.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The offset to commit: the first unfinished message, or one past the last message when all are
   * finished; undefined before the first message.
   */
  get committable(): number | undefined {
    if (this.#position < 0) return undefined;
    return this.#head < this.#taken.length ? this.#taken[this.#head] : this.#position;
  }
}
