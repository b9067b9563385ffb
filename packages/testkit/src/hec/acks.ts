/**
 * Indexer acknowledgement bookkeeping. Each channel numbers its successful requests 0, 1, 2...
 * (`ackId`). An ack reads `true` once its request is "indexed" (after the configured delay); HEC
 * forgets an ackId once it has answered `true` for it, so a second query reads `false`.
 */
export class AckStore {
  private readonly channels = new Map<string, { next: number; pending: Map<number, number> }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Issues the next ackId on `channel`; it turns true at `readyAt` (ms epoch; Infinity = never). */
  issue(channel: string, readyAt: number): number {
    let ch = this.channels.get(channel);
    if (!ch) {
      ch = { next: 0, pending: new Map() };
      this.channels.set(channel, ch);
    }
    const id = ch.next++;
    ch.pending.set(id, readyAt);
    return id;
  }

  /** Answers a query: true for each id indexed by now (and forgets it), else false. */
  query(channel: string, ids: readonly number[]): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    const ch = this.channels.get(channel);
    const now = this.now();
    for (const id of ids) {
      const readyAt = ch?.pending.get(id);
      const done = readyAt !== undefined && readyAt <= now;
      if (done) ch?.pending.delete(id);
      out[String(id)] = done;
    }
    return out;
  }

  /** ackIds issued on `channel` and not yet reported true. */
  pending(channel: string): number[] {
    return [...(this.channels.get(channel)?.pending.keys() ?? [])];
  }

  clear(): void {
    this.channels.clear();
  }
}
