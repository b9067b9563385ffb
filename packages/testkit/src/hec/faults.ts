/**
 * Runtime fault injection for the HEC receiver. Each fault is active "until cleared" by default,
 * or for `times` triggers; with `probability` it triggers on a share of eligible requests (or
 * events), drawn from a seeded RNG so soak tests are reproducible.
 */

/** Which HEC endpoint a request went to. */
export type HecEndpoint = 'event' | 'raw' | 'ack' | 'health';

/** What every fault accepts. */
export interface FaultCommon {
  /** Trigger at most this many times, then retire. Default: until cleared. */
  times?: number;
  /** Chance (0..1) that an eligible request/event triggers the fault. Default 1. */
  probability?: number;
  /** Endpoints the fault applies to. Default: the ingest endpoints, `['event', 'raw']`. */
  endpoints?: readonly HecEndpoint[];
}

/** Events have been accepted or not when a delay/reset fault fires. */
export type FaultPhase = 'before-accept' | 'after-accept';

export type FaultSpec =
  /** 503 `{"text":"Server is busy","code":9}`; on /health: 503 code 18 (queues full). */
  | ({ kind: 'busy' } & FaultCommon)
  /** Any reply: a HEC `code` (status and text from the table unless given), or a raw status/body. */
  | ({
      kind: 'respond';
      status?: number;
      code?: number;
      text?: string;
      /** Replaces the whole body; a string is sent as is, an object as JSON. */
      body?: string | Record<string, unknown>;
    } & FaultCommon)
  /**
   * Slow response. `before-accept` (default) waits before processing: if the client gave up
   * meanwhile, nothing is accepted. `after-accept` accepts the events, then waits before
   * answering: a client that times out will resend events that were in fact indexed.
   */
  | ({ kind: 'delay'; ms: number; phase?: FaultPhase } & FaultCommon)
  /**
   * Connection reset: the socket is destroyed without a response. `before-accept` (default)
   * drops the events; `after-accept` indexes them first (the at-least-once duplicate case).
   */
  | ({ kind: 'reset'; phase?: FaultPhase } & FaultCommon)
  /**
   * Marks one event of a batch invalid: event number `eventIndex` of the next batch that has
   * one, or the first event for which `match` is true. The reply is 400 with
   * `invalid-event-number`; `code` picks the error (default 6, Invalid data format).
   */
  | ({
      kind: 'invalidEvent';
      eventIndex?: number;
      match?: (event: Record<string, unknown> | string, eventNumber: number) => boolean;
      code?: 6 | 7 | 12 | 13 | 15;
    } & FaultCommon)
  /** 403 `{"text":"Token disabled","code":1}` for requests with an otherwise valid token. */
  | ({ kind: 'tokenDisabled' } & FaultCommon)
  /** Acks for the requests accepted while active become true only after `ms`. */
  | ({ kind: 'ackDelay'; ms: number } & FaultCommon)
  /** Acks for the requests accepted while active never become true. */
  | ({ kind: 'neverAck' } & FaultCommon);

export type FaultKind = FaultSpec['kind'];

/** A fault in the registry. */
export interface FaultHandle {
  readonly id: number;
  readonly spec: Readonly<FaultSpec>;
  /** How many times it has fired. */
  readonly triggered: number;
  /** Triggers left, or Infinity for "until cleared". */
  readonly remaining: number;
  /** True until cleared or exhausted. */
  readonly active: boolean;
  /** Removes it from the registry. */
  clear(): void;
}

/** mulberry32: tiny, fast, good enough for test-time coin flips. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INGEST: readonly HecEndpoint[] = ['event', 'raw'];

class Fault implements FaultHandle {
  triggered = 0;
  remaining: number;
  active = true;
  constructor(
    readonly id: number,
    readonly spec: Readonly<FaultSpec>,
    private readonly registry: FaultRegistry,
  ) {
    this.remaining = spec.times ?? Number.POSITIVE_INFINITY;
  }
  clear(): void {
    this.registry.remove(this);
  }
}

function checkSpec(spec: FaultSpec): void {
  if (spec.times !== undefined && (!Number.isInteger(spec.times) || spec.times < 1)) {
    throw new RangeError(`fault ${spec.kind}: times must be a positive integer`);
  }
  if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
    throw new RangeError(`fault ${spec.kind}: probability must be within 0..1`);
  }
  if ((spec.kind === 'delay' || spec.kind === 'ackDelay') && !(spec.ms >= 0)) {
    throw new RangeError(`fault ${spec.kind}: ms must be >= 0`);
  }
  if (spec.kind === 'invalidEvent' && spec.eventIndex === undefined && spec.match === undefined) {
    throw new TypeError('fault invalidEvent: give eventIndex or match');
  }
}

/** The receiver's fault registry (`receiver.faults`). */
export class FaultRegistry {
  private readonly list: Fault[] = [];
  private nextId = 1;
  private random: () => number;
  /** Number of times each kind of fault fired since start or the last reset. */
  readonly counts: Record<FaultKind, number> = FaultRegistry.zeroCounts();

  constructor(seed = 0x5eed) {
    this.random = seededRandom(seed);
  }

  private static zeroCounts(): Record<FaultKind, number> {
    return {
      busy: 0,
      respond: 0,
      delay: 0,
      reset: 0,
      invalidEvent: 0,
      tokenDisabled: 0,
      ackDelay: 0,
      neverAck: 0,
    };
  }

  /** Adds a fault; it applies from the next request on. */
  inject(spec: FaultSpec): FaultHandle {
    checkSpec(spec);
    const fault = new Fault(this.nextId++, { ...spec }, this);
    this.list.push(fault);
    return fault;
  }

  /** 503 Server is busy (code 9). */
  busy(opts: FaultCommon = {}): FaultHandle {
    return this.inject({ kind: 'busy', ...opts });
  }

  /** An arbitrary reply: `{ code }` for a HEC code, or `{ status, body }`. */
  respond(
    reply: { status?: number; code?: number; text?: string; body?: string | Record<string, unknown> },
    opts: FaultCommon = {},
  ): FaultHandle {
    return this.inject({ kind: 'respond', ...reply, ...opts });
  }

  /** Delays the response by `ms`. */
  delay(ms: number, opts: FaultCommon & { phase?: FaultPhase } = {}): FaultHandle {
    return this.inject({ kind: 'delay', ms, ...opts });
  }

  /** Destroys the connection without a response. */
  reset(opts: FaultCommon & { phase?: FaultPhase } = {}): FaultHandle {
    return this.inject({ kind: 'reset', ...opts });
  }

  /** Marks event `eventIndex` of the next batch (or the first event matching `match`) invalid. */
  invalidEvent(
    opts: FaultCommon & {
      eventIndex?: number;
      match?: (event: Record<string, unknown> | string, eventNumber: number) => boolean;
      code?: 6 | 7 | 12 | 13 | 15;
    },
  ): FaultHandle {
    return this.inject({ kind: 'invalidEvent', ...opts });
  }

  /** 403 Token disabled (code 1). */
  tokenDisabled(opts: FaultCommon = {}): FaultHandle {
    return this.inject({ kind: 'tokenDisabled', ...opts });
  }

  /** Acks of requests accepted while active turn true only after `ms`. */
  ackDelay(ms: number, opts: FaultCommon = {}): FaultHandle {
    return this.inject({ kind: 'ackDelay', ms, ...opts });
  }

  /** Acks of requests accepted while active never turn true. */
  neverAck(opts: FaultCommon = {}): FaultHandle {
    return this.inject({ kind: 'neverAck', ...opts });
  }

  /** Faults still active, in the order they were added. */
  get active(): readonly FaultHandle[] {
    return this.list.slice();
  }

  /** Removes every fault (counts are kept; reset() on the receiver zeroes them). */
  clear(): void {
    for (const f of this.list) f.active = false;
    this.list.length = 0;
  }

  /** Re-seeds the RNG used for `probability`. */
  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** @internal */
  remove(fault: Fault): void {
    fault.active = false;
    const i = this.list.indexOf(fault);
    if (i >= 0) this.list.splice(i, 1);
  }

  /** @internal zeroes counts and drops faults. */
  resetAll(): void {
    this.clear();
    const zero = FaultRegistry.zeroCounts();
    for (const k of Object.keys(zero) as FaultKind[]) this.counts[k] = 0;
  }

  /** @internal true when some fault of these kinds could apply to the endpoint (no side effect). */
  has(kinds: readonly FaultKind[], endpoint: HecEndpoint): boolean {
    for (const f of this.list) {
      if (kinds.includes(f.spec.kind) && (f.spec.endpoints ?? INGEST).includes(endpoint)) return true;
    }
    return false;
  }

  /**
   * @internal The first fault of these kinds, eligible for the endpoint and (for invalidEvent)
   * accepting the candidate, that wins its coin flip. Firing consumes one trigger.
   */
  fire<K extends FaultKind>(
    kinds: readonly K[],
    endpoint: HecEndpoint,
    accept?: (spec: Extract<FaultSpec, { kind: K }>) => boolean,
  ): Extract<FaultSpec, { kind: K }> | undefined {
    for (const f of this.list) {
      const spec = f.spec as Extract<FaultSpec, { kind: K }>;
      if (!kinds.includes(spec.kind)) continue;
      if (!(spec.endpoints ?? INGEST).includes(endpoint)) continue;
      if (accept && !accept(spec)) continue;
      if (spec.probability !== undefined && this.random() >= spec.probability) continue;
      f.triggered++;
      f.remaining--;
      this.counts[spec.kind]++;
      if (f.remaining <= 0) this.remove(f);
      return spec;
    }
    return undefined;
  }
}
