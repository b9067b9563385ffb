// Plugins used by the tests.
import { definePlugin, type Page, type PollContext } from '../src/plugin.js';

export interface CounterConfig {
  /** Items in the upstream. */
  total: number;
  pageSize: number;
  /** Delay before each page, ms. */
  delayMs: number;
  /** Throw after this many pages (-1: never). */
  failAfterPages: number;
}

/** An upstream of `total` numbered items; the cursor is how many were delivered. */
export const counterPlugin = definePlugin<CounterConfig, number>({
  name: 'counter',
  version: '1.0.0',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      total: { type: 'integer', minimum: 0, default: 10 },
      pageSize: { type: 'integer', minimum: 1, default: 5 },
      delayMs: { type: 'integer', minimum: 0, default: 0 },
      failAfterPages: { type: 'integer', default: -1 },
    },
  },
  compareCursors: (a, b) => a - b,
  async *poll({ cursor, config, signal, instance }) {
    let at = cursor ?? 0;
    let pages = 0;
    while (at < config.total) {
      if (config.failAfterPages >= 0 && pages >= config.failAfterPages)
        throw new Error('counter upstream broke');
      if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
      signal.throwIfAborted();
      const end = Math.min(config.total, at + config.pageSize);
      const events = [];
      for (let i = at; i < end; i++)
        events.push({
          id: `item-${i}`,
          timestamp: 1_700_000_000_000 + i * 1000,
          message: `item ${i} of ${instance.id}`,
          fields: { n: i },
        });
      at = end;
      pages++;
      yield { events, cursor: at };
    }
  },
});

type Script = (ctx: PollContext<Record<string, unknown>, unknown>) => AsyncIterable<Page<unknown>>;

/** Behaviour per instance id, set by the test. */
export const scripts = new Map<string, Script>();

/** A plugin that does whatever the test scripted for the instance. */
export const scriptedPlugin = definePlugin<Record<string, unknown>, unknown>({
  name: 'scripted',
  version: '1.0.0',
  configSchema: { type: 'object' },
  poll(ctx) {
    const script = scripts.get(ctx.instance.id);
    if (!script) throw new Error(`no script for ${ctx.instance.id}`);
    return script(ctx);
  },
});

export interface RunRecordEntry {
  instance: string;
  replica: string;
  start: number;
  end?: number;
}

/** What the recording plugins saw: who ran which instance when, and the most at once. */
export class RunLog {
  readonly entries: RunRecordEntry[] = [];
  readonly #active = new Map<string, number>();
  maxConcurrent = 0;

  start(instance: string, replica: string): RunRecordEntry {
    const entry: RunRecordEntry = { instance, replica, start: performance.timeOrigin + performance.now() };
    this.entries.push(entry);
    const active = (this.#active.get(instance) ?? 0) + 1;
    this.#active.set(instance, active);
    this.maxConcurrent = Math.max(this.maxConcurrent, active);
    return entry;
  }

  end(entry: RunRecordEntry): void {
    entry.end = performance.timeOrigin + performance.now();
    this.#active.set(entry.instance, (this.#active.get(entry.instance) ?? 1) - 1);
  }

  /** Pairs of runs of one instance whose intervals overlap (should be none). */
  overlaps(): Array<[RunRecordEntry, RunRecordEntry]> {
    const out: Array<[RunRecordEntry, RunRecordEntry]> = [];
    const byInstance = new Map<string, RunRecordEntry[]>();
    for (const e of this.entries) byInstance.set(e.instance, [...(byInstance.get(e.instance) ?? []), e]);
    for (const list of byInstance.values()) {
      const sorted = [...list].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        const prev = sorted[i - 1]!;
        if ((prev.end ?? Number.POSITIVE_INFINITY) > sorted[i]!.start) out.push([prev, sorted[i]!]);
      }
    }
    return out;
  }
}

/** The counter plugin, as seen by one replica, recording its runs in `log`. */
export function recordingPlugin(replica: string, log: RunLog) {
  return definePlugin<CounterConfig, number>({
    ...counterPlugin,
    name: 'recording',
    async *poll(ctx) {
      const entry = log.start(ctx.instance.id, replica);
      try {
        yield* counterPlugin.poll(ctx);
      } finally {
        log.end(entry);
      }
    },
  });
}
