/**
 * The pipeline core: for each Kafka record, decode (scan), decide (flags, routing, rate limits,
 * budget), and either drop it on purpose, dead-letter it, or serialise it into the current HEC
 * batch. It runs synchronously per handler call and returns a Chunk that completes when every
 * record of the call is delivered, dead-lettered or dropped; the consumer commits only then.
 *
 * Cheap filtering: when the Kafka headers carry the service and level (`alf.headers.*`), the drop
 * decisions are made before the record is even scanned.
 */
import type { KafkaMessage } from '@fleet/chassis';
import { type Batch, Batcher, Chunk, PendingEvent } from './batch.js';
import type { Dials } from './dials.js';
import { DEFAULT_LEVEL, levelFromBytes, levelFromString } from './levels.js';
import type { AlfMetrics } from './metrics.js';
import { RateLimiter } from './ratelimit.js';
import {
  ARRAY,
  NONE,
  NULL,
  NUMBER,
  OBJECT,
  SCAN_NOT_OBJECT,
  SCAN_OK,
  ScanPlan,
  ScanResult,
  SLOT_HOST,
  SLOT_LEVEL,
  SLOT_SERVICE,
  SLOT_TIMESTAMP,
  STRING,
  scanRecord,
  slotString,
  slotTimestamp,
} from './record.js';
import { DEFAULT_ROUTE, Router } from './router.js';
import type { Rules } from './rules.js';
import {
  DROP_FLAG_LEVEL,
  DROP_FLAG_SERVICE,
  DROP_ROUTE,
  type ServiceRegistry,
  type ServiceState,
} from './services.js';
import type { Logger } from './types.js';

/** An indexed field: HEC `fields` name and the record path it comes from. */
export interface IndexedField {
  name: string;
  path: string;
}

/** Parse `alf.indexedFields` entries (`path` or `name=path`). */
export function parseIndexedFields(list: readonly string[]): { fields: IndexedField[]; problems: string[] } {
  const fields: IndexedField[] = [];
  const problems: string[] = [];
  for (const raw of list.map((s) => String(s).trim()).filter(Boolean)) {
    const eq = raw.indexOf('=');
    const path = eq >= 0 ? raw.slice(eq + 1).trim() : raw;
    const name = eq >= 0 ? raw.slice(0, eq).trim() : (path.split('.').pop() ?? path);
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(name)) problems.push(`alf.indexedFields: bad field name '${name}'`);
    else if (!/^[^.\s]+(\.[^.\s]+)?$/.test(path))
      problems.push(`alf.indexedFields: '${path}' must be 'name' or 'parent.name'`);
    else if (fields.some((f) => f.name === name)) problems.push(`alf.indexedFields: '${name}' appears twice`);
    else fields.push({ name, path });
  }
  return { fields, problems };
}

export interface PipelineSettings {
  /** Topics consumed (route caches are per topic). */
  topics: readonly string[];
  /** Larger records are dead-lettered (reason oversize). */
  maxEventBytes: number;
  /** Kafka headers naming the service and level ('' to ignore headers). */
  serviceHeader: string;
  levelHeader: string;
  indexedFields: readonly IndexedField[];
  /** Record bytes in flight (taken, not yet delivered or dead-lettered) before handlers wait. */
  maxInFlightBytes: number;
  batch: { maxEvents: number; maxBytes: number; lingerMs: number };
}

export interface PipelineDeps {
  log: Logger;
  metrics: AlfMetrics;
  services: ServiceRegistry;
  dials: Dials;
  /** Receives sealed batches (the HEC delivery). */
  sink: (batch: Batch) => void;
  /** Write a record to the dead-letter topic; `done` once written. */
  deadLetter: (
    message: KafkaMessage,
    reason: string,
    detail: Record<string, string>,
    done: () => void,
  ) => void;
}

/** Everything that changes with a rules reload, swapped in one assignment. */
interface Generation {
  readonly id: number;
  readonly rules: Rules;
  readonly plan: ScanPlan;
  readonly scan: ScanResult;
  readonly router: Router;
  readonly limiter: RateLimiter;
  /** Indexed fields: slot, and the text before the value (first in `fields`, or a later one). */
  readonly indexed: ReadonlyArray<{ slot: number; open: Buffer; next: Buffer }>;
  /** Characters of the indexed fields' text, for capacity estimates. */
  readonly indexedTextLength: number;
}

const MAX_LEVEL_CACHE = 64;
const HOST_KEY = Buffer.from(',"host":');
const FIELDS_CLOSE = Buffer.from('},"event":');

export class Pipeline {
  readonly settings: PipelineSettings;
  readonly #deps: PipelineDeps;
  readonly #metrics: AlfMetrics;
  readonly #services: ServiceRegistry;
  readonly #dials: Dials;
  readonly batcher: Batcher;
  #g: Generation;
  #generations = 0;
  readonly #levelCache = new Map<string, number>();
  #waiters: Array<() => void> = [];
  /** Second of the current handler call (the top view's clock). */
  #sec = 0;

  constructor(settings: PipelineSettings, rules: Rules, deps: PipelineDeps) {
    this.settings = settings;
    this.#deps = deps;
    this.#metrics = deps.metrics;
    this.#services = deps.services;
    this.#dials = deps.dials;
    this.batcher = new Batcher({ ...settings.batch, onSeal: (batch) => deps.sink(batch) });
    this.#g = this.#generation(rules);
  }

  get rules(): Rules {
    return this.#g.rules;
  }

  get generation(): number {
    return this.#g.id;
  }

  get router(): Router {
    return this.#g.router;
  }

  get limiter(): RateLimiter {
    return this.#g.limiter;
  }

  /** Switch to new rules (validated already): takes effect from the next record. */
  setRules(rules: Rules): void {
    this.#g = this.#generation(rules);
  }

  #generation(rules: Rules): Generation {
    const id = ++this.#generations;
    const plan = new ScanPlan(this.settings.indexedFields.map((f) => f.path));
    const router = new Router(id, rules, plan, this.settings.topics);
    const indexed = this.settings.indexedFields.map((f) => ({
      slot: plan.slot(f.path),
      open: Buffer.from(`,"fields":{${JSON.stringify(f.name)}:`),
      next: Buffer.from(`,${JSON.stringify(f.name)}:`),
    }));
    const indexedTextLength = indexed.reduce((n, f) => n + f.open.length, 0);
    const limiter = new RateLimiter(id, router.routeSlots, rules.limits, rules.budget, Date.now());
    return { id, rules, plan, scan: new ScanResult(plan.slots), router, limiter, indexed, indexedTextLength };
  }

  /** Resolves when the in-flight budget has room (null: it has room now). */
  admit(): Promise<void> | null {
    if (this.#metrics.inFlightBytes < this.settings.maxInFlightBytes) return null;
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Take a run of records. Synchronous: every record is dropped, queued for the dead-letter topic
   * or serialised into a batch before this returns.
   */
  ingest(messages: readonly KafkaMessage[]): Chunk {
    const chunk = new Chunk();
    if (messages.length === 0) {
      chunk.seal();
      return chunk;
    }
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    this.#sec = sec;
    const topic = messages[0]!.topic;
    const topicIdx = this.#g.router.topicIndex(topic);
    this.#metrics.consumed.add(topic, messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      try {
        this.#one(m, chunk, topicIdx, now, sec);
      } catch (err) {
        // A bug must not fail (and replay) the whole handler call: this record alone is set aside
        this.#deps.log.error(
          { err, topic: m.topic, partition: m.partition, offset: m.offset },
          'record failed unexpectedly',
        );
        this.#reject(m, chunk, 'internal_error', m.value?.length ?? 0);
      }
    }
    chunk.seal();
    return chunk;
  }

  #one(m: KafkaMessage, chunk: Chunk, topicIdx: number, now: number, sec: number): void {
    const value = m.value;
    if (value === null || value.length === 0) {
      this.#reject(m, chunk, 'empty', 0);
      return;
    }
    const size = value.length;
    if (size > this.settings.maxEventBytes) {
      this.#reject(m, chunk, 'oversize', size);
      return;
    }
    const g = this.#g;

    // Cheap filtering on headers, before the record is scanned
    let state: ServiceState | null = null;
    let level = -1;
    if (this.settings.serviceHeader !== '') {
      const hService = m.headers[this.settings.serviceHeader];
      if (hService) {
        const hLevel = m.headers[this.settings.levelHeader];
        level = hLevel !== undefined ? this.#headerLevel(hLevel) : -1;
        if (level >= 0) {
          state = this.#services.get(hService);
          state.count(sec, size);
          if (this.#drops(state, level, size, m, now, sec)) return;
        }
      }
    }

    const scan = g.scan;
    const status = scanRecord(value, g.plan, scan);
    if (status !== SCAN_OK) {
      this.#reject(m, chunk, status === SCAN_NOT_OBJECT ? 'not_object' : 'not_json', size);
      return;
    }
    if (scan.type[SLOT_SERVICE] !== STRING || scan.end[SLOT_SERVICE]! <= scan.start[SLOT_SERVICE]!) {
      this.#reject(m, chunk, 'missing_service', size);
      return;
    }
    const prefiltered = state !== null;
    if (state === null) {
      state = this.#services.get(slotString(value, scan, SLOT_SERVICE)!);
      const lt = scan.type[SLOT_LEVEL];
      level =
        lt === STRING || lt === NUMBER
          ? levelFromBytes(value, scan.start[SLOT_LEVEL]!, scan.end[SLOT_LEVEL]!)
          : -1;
      if (level < 0)
        level =
          lt === STRING && scan.escaped[SLOT_LEVEL] === 1 ? this.#escapedLevel(value, scan) : DEFAULT_LEVEL;
      state.count(sec, size);
    }

    const route = g.router.resolve(state, level, topicIdx, m.topic, value, scan);
    if (route !== DEFAULT_ROUTE && g.router.routes[route]!.drop) {
      state.countDrop(sec, DROP_ROUTE, level);
      return;
    }
    if (!prefiltered && this.#drops(state, level, size, m, now, sec)) return;

    let time = slotTimestamp(value, scan, SLOT_TIMESTAMP);
    if (Number.isNaN(time)) {
      time = m.timestamp;
      this.#metrics.timestampFallbacks++;
    }

    // {"time":<s.ms>,"host":<raw>,"source":...,"sourcetype":...,"index":...,"fields":{...},"event":<record>}
    // written piecewise into the batch: raw JSON values (host, indexed fields) are copied as bytes
    const router = g.router;
    const segment = router.segment(state, route);
    const staticFields = router.staticFields[route + 1]!;
    let fields = false;
    if (staticFields !== '') fields = true;
    else
      for (let k = 0; k < g.indexed.length; k++) if (this.#isField(scan, g.indexed[k]!.slot)) fields = true;
    const hasHost = scan.type[SLOT_HOST] === STRING;
    const event = new PendingEvent(chunk, m, time, size, state, level);
    chunk.add();
    this.#metrics.inFlightBytes += size;
    this.#metrics.inFlightEvents++;
    const b = this.batcher;
    // Raw pieces come from the record (at most its size); the others are short and bounded
    b.begin(size * 2 + (segment.length + staticFields.length + g.indexedTextLength) * 3 + 64);
    this.#time(b, time);
    if (hasHost) {
      b.bytes(HOST_KEY);
      b.raw(value, scan.start[SLOT_HOST]! - 1, scan.end[SLOT_HOST]! + 1);
    }
    if (!fields) b.bytes(router.segmentWithEventBytes(state, route));
    else {
      b.bytes(router.segmentBytes(state, route));
      let first = true;
      for (let k = 0; k < g.indexed.length; k++) {
        const f = g.indexed[k]!;
        if (!this.#isField(scan, f.slot)) continue;
        b.bytes(first ? f.open : f.next);
        first = false;
        if (scan.type[f.slot] === STRING) b.raw(value, scan.start[f.slot]! - 1, scan.end[f.slot]! + 1);
        else b.raw(value, scan.start[f.slot]!, scan.end[f.slot]!);
      }
      const close = router.staticFieldsClose[route + 1];
      if (close) b.bytes(first ? close.alone : close.after);
      else b.bytes(FIELDS_CLOSE);
    }
    b.end(event, value);
  }

  /** `{"time":<epoch seconds>.<ms>`: the seconds part is cached (events of a batch share it). */
  #time(b: Batcher, ms: number): void {
    if (!(ms >= 0) || ms !== Math.floor(ms)) {
      b.text(`{"time":${ms / 1000}`);
      return;
    }
    const sec = Math.floor(ms / 1000);
    if (sec !== this.#timeSec) {
      this.#timeSec = sec;
      this.#timePrefix = Buffer.from(`{"time":${sec}`);
    }
    b.bytes(this.#timePrefix);
    b.millis(ms - sec * 1000);
  }

  #timeSec = Number.NaN;
  #timePrefix: Buffer = Buffer.alloc(0);

  /** A scalar, non-null value: sent as an indexed field. */
  #isField(scan: ScanResult, slot: number): boolean {
    const t = scan.type[slot];
    return t !== NONE && t !== OBJECT && t !== ARRAY && t !== NULL;
  }

  #escapedLevel(value: Buffer, scan: ScanResult): number {
    const level = levelFromString(slotString(value, scan, SLOT_LEVEL) ?? '');
    return level >= 0 ? level : DEFAULT_LEVEL;
  }

  #headerLevel(text: string): number {
    let level = this.#levelCache.get(text);
    if (level === undefined) {
      level = levelFromString(text);
      if (this.#levelCache.size < MAX_LEVEL_CACHE) this.#levelCache.set(text, level);
    }
    return level;
  }

  /** Flags, limits and budget: true (and counted) when the event is dropped. */
  #drops(
    state: ServiceState,
    level: number,
    size: number,
    m: KafkaMessage,
    now: number,
    sec: number,
  ): boolean {
    const dials = this.#dials;
    let reason: number;
    if (dials.levelBasisPoints[level]! > 0 && dials.dropsLevel(level, m)) reason = DROP_FLAG_LEVEL;
    else if (dials.dropsService(state, m)) reason = DROP_FLAG_SERVICE;
    else {
      reason = this.#g.limiter.admit(state, level, size, now);
      if (reason === 0) return false;
    }
    state.countDrop(sec, reason, level);
    return true;
  }

  #reject(m: KafkaMessage, chunk: Chunk, reason: string, size: number): void {
    chunk.add();
    this.#metrics.inFlightBytes += size;
    this.#metrics.inFlightEvents++;
    this.#deps.deadLetter(m, reason, {}, () => this.#finished(chunk, size));
  }

  #finished(chunk: Chunk, size: number): void {
    this.#metrics.inFlightBytes -= size;
    this.#metrics.inFlightEvents--;
    chunk.done();
    this.#wake();
  }

  /** HEC accepted events [from, to) at `at` (ms). */
  delivered(events: readonly PendingEvent[], from: number, to: number, at: number): void {
    const metrics = this.#metrics;
    const latency = metrics.latency;
    let bytes = 0;
    for (let i = from; i < to; i++) {
      const e = events[i]!;
      latency.observe((at - e.timeMs) / 1000);
      bytes += e.size;
      e.chunk.done();
    }
    metrics.delivered += to - from;
    metrics.inFlightBytes -= bytes;
    metrics.inFlightEvents -= to - from;
    this.#wake();
  }

  /** HEC refused an event: to the dead-letter topic, finished once written. */
  refused(event: PendingEvent, reason: string, detail: Record<string, string>): void {
    this.#deps.deadLetter(event.message, reason, detail, () => this.#finished(event.chunk, event.size));
  }

  #wake(): void {
    if (this.#waiters.length === 0 || this.#metrics.inFlightBytes >= this.settings.maxInFlightBytes) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Seal the batch being filled (shutdown, tests). */
  flush(): void {
    this.batcher.seal();
  }

  /** The busiest services over the last `windowSec` seconds. */
  top(options: { limit?: number; by?: 'events' | 'bytes'; windowSec?: number } = {}): TopReport {
    const windowSec = Math.max(1, Math.min(59, options.windowSec ?? 59));
    const by = options.by ?? 'events';
    const sec = Math.max(this.#sec, Math.floor(Date.now() / 1000));
    const rows: TopRow[] = [];
    let totalEvents = 0;
    let totalBytes = 0;
    let totalDropped = 0;
    const states = [...this.#services.all()];
    if (this.#services.overflow.lastSec > 0) states.push(this.#services.overflow);
    for (const state of states) {
      const t = state.totals(sec, windowSec);
      totalEvents += t.events;
      totalBytes += t.bytes;
      totalDropped += t.dropped;
      if (t.events === 0) continue;
      rows.push({
        service: state.name,
        events_per_s: round(t.events / windowSec),
        bytes_per_s: round(t.bytes / windowSec),
        dropped_per_s: round(t.dropped / windowSec),
        drop_flag: state.flagName,
        drop_basis_points: this.#dials.serviceBasisPoints(state),
      });
    }
    rows.sort((a, b) => (by === 'bytes' ? b.bytes_per_s - a.bytes_per_s : b.events_per_s - a.events_per_s));
    return {
      window_seconds: windowSec,
      by,
      total: {
        events_per_s: round(totalEvents / windowSec),
        bytes_per_s: round(totalBytes / windowSec),
        dropped_per_s: round(totalDropped / windowSec),
        services: rows.length,
      },
      services: rows.slice(0, Math.max(1, options.limit ?? 20)),
    };
  }

  close(): void {
    this.batcher.close();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export interface TopRow {
  service: string;
  events_per_s: number;
  bytes_per_s: number;
  dropped_per_s: number;
  /** The flag that throttles this service: PUT /admin/flags/<drop_flag> {"value": 10000}. */
  drop_flag: string;
  drop_basis_points: number;
}

export interface TopReport {
  window_seconds: number;
  by: 'events' | 'bytes';
  total: { events_per_s: number; bytes_per_s: number; dropped_per_s: number; services: number };
  services: TopRow[];
}
