import type { ProduceMessage } from '@fleet/chassis';
import { calmLevel, type Level, logRecord } from './records.js';

/** Events per second right now: the calm services together, and the flood service. */
export interface Rates {
  calm: number;
  flood: number;
}

export interface GeneratorOptions {
  /** Produce one batch; resolves once Kafka has it. */
  send(messages: ProduceMessage[]): Promise<unknown>;
  services: readonly string[];
  hostsPerService: number;
  floodService: string;
  /** Read at every tick, so rate changes and flag flips apply within one tick. */
  rates(): Rates;
  tickMs: number;
  /** Events owed while a send is in flight are kept up to this many ms worth, the rest is skipped. */
  maxLagMs: number;
  onProduced(service: string, level: Level, count: number): void;
  onSkipped(count: number): void;
  onError(error: unknown): void;
  now?: () => number;
}

/**
 * Produces synthetic logs in batches on a timer. The number of events per tick comes from the time
 * really elapsed (fractions carried over), and ticks are scheduled on a fixed grid, so the rate does
 * not drift with timer lateness. One send at a time: while Kafka is slow, events are owed rather than
 * queued, and what is owed is capped at `maxLagMs` worth — memory stays bounded whatever Kafka does.
 */
export class LogGenerator {
  readonly #o: GeneratorOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #last = 0;
  #nextAt = 0;
  #owedCalm = 0;
  #owedFlood = 0;
  #seq = 0;
  #running = false;

  constructor(options: GeneratorOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#last = this.#now();
    this.#nextAt = this.#last + this.#o.tickMs;
    this.#schedule();
  }

  /** Stop ticking and wait for the send in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, this.#nextAt - this.#now()));
    this.#timer.unref();
  }

  #tick(): void {
    const now = this.#now();
    const elapsedS = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    const { calm, flood } = this.#o.rates();
    this.#owedCalm = this.#owe(this.#owedCalm, calm, elapsedS);
    this.#owedFlood = this.#owe(this.#owedFlood, flood, elapsedS);
    if (this.#inFlight === undefined) this.#sendOwed();
    // next slot of the grid; slots already missed are not replayed (elapsed time covers them)
    const tick = this.#o.tickMs;
    this.#nextAt += tick;
    if (this.#nextAt <= now) this.#nextAt = now + tick - ((now - this.#nextAt) % tick);
    this.#schedule();
  }

  #owe(owed: number, rate: number, elapsedS: number): number {
    const cap = (rate * Math.max(this.#o.maxLagMs, this.#o.tickMs)) / 1000;
    const total = owed + rate * elapsedS;
    if (total <= cap) return total;
    const skipped = Math.floor(total - cap);
    if (skipped > 0) this.#o.onSkipped(skipped);
    return total - skipped;
  }

  #sendOwed(): void {
    const calmCount = Math.floor(this.#owedCalm);
    const floodCount = Math.floor(this.#owedFlood);
    if (calmCount + floodCount === 0) return;
    this.#owedCalm -= calmCount;
    this.#owedFlood -= floodCount;
    const stamp = new Date().toISOString();
    const { services, hostsPerService, floodService } = this.#o;
    const messages: ProduceMessage[] = [];
    const counts = new Map<string, { service: string; level: Level; count: number }>();
    const add = (service: string, level: Level, seq: number) => {
      messages.push(logRecord(service, level, `${service}-${(seq % hostsPerService) + 1}`, seq, stamp));
      const key = `${service}\u0000${level}`;
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { service, level, count: 1 });
    };
    for (let i = 0; i < calmCount; i++) {
      const seq = this.#seq++;
      add(services[seq % services.length] ?? floodService, calmLevel(seq), seq);
    }
    for (let i = 0; i < floodCount; i++) add(floodService, 'debug', this.#seq++);
    this.#inFlight = this.#o
      .send(messages)
      .then(
        () => {
          for (const { service, level, count } of counts.values()) this.#o.onProduced(service, level, count);
        },
        (error: unknown) => this.#o.onError(error),
      )
      .finally(() => {
        this.#inFlight = undefined;
      });
  }
}
