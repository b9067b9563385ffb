import type { Logger } from 'pino';
import type { MetricsRegistry } from '../metrics/registry.js';
import { BUCKETS, HashPrefix, randomBucket } from './hash.js';
import {
  assertFlagName,
  FlagError,
  type FlagSource,
  FlagStoreReadOnlyError,
  FlagStoreUnavailableError,
  InvalidFlagValueError,
  isValidFlagValue,
  MAX_DESCRIPTION_LENGTH,
  MAX_FLAG_VALUE,
  MAX_OWNER_LENGTH,
  MAX_UPDATED_BY_LENGTH,
  parseFlagValue,
  type StoredFlag,
  toStoredFlag,
} from './model.js';
import type { FlagStore, StoreSink } from './store.js';

/** How a flag is declared in code. */
export interface FlagDefinition {
  /** Value while the store does not have the flag: a boolean or basis points (default: off). */
  default?: boolean | number;
  description?: string;
  owner?: string;
}

/** The key a percentage rollout is sticky on (user id, request id, service name...). */
export type FlagKey = string | { key?: string | number | null | undefined } | undefined | null;

/** Everything known about one flag. */
export interface FlagInfo {
  name: string;
  /** Effective value, basis points. */
  value: number;
  source: FlagSource;
  /** What the store holds (null: not in the store). */
  storeValue: number | null;
  /** The default declared in code (null: not declared). */
  defaultValue: number | null;
  /** This instance's override (null: none). */
  override: number | null;
  description: string;
  owner: string;
  updatedAt: string | null;
  updatedBy: string | null;
  version: number | null;
}

/** An effective value changed (store update, override, definition). */
export interface FlagChange {
  name: string;
  value: number;
  previous: number;
  source: FlagSource;
  previousSource: FlagSource;
}

export type FlagChangeListener = (change: FlagChange) => void;

/** A defined flag, bound once: evaluating it skips the name lookup. */
export interface FlagHandle {
  readonly name: string;
  isAvailable(key?: FlagKey): boolean;
  /** Effective value, basis points. */
  value(): number;
}

export interface FlagsStatus {
  store: string;
  /** The store is reachable and pushing/polled successfully. */
  up: boolean;
  /** At least one complete snapshot has been loaded. */
  synced: boolean;
  /** When the store last delivered or confirmed the snapshot (ISO), null if never. */
  lastSyncAt: string | null;
  /** Seconds since lastSyncAt (since the client started if never). */
  ageSeconds: number;
}

export interface SetFlagOptions {
  /** Who changes it (token subject, user name): stored as updated_by and audit-logged. */
  by: string;
  description?: string;
  owner?: string;
}

/** Runtime feature flags: `service.flags`. */
export interface Flags {
  /** Declare a flag and its default (used while the store does not have it). */
  define(name: string, definition?: FlagDefinition): FlagHandle;
  /**
   * Whether the flag is on for `key`: sticky per key (`murmur3(name:key) % 10000 < value`), random
   * per call without one. Synchronous, never touches I/O. Unknown flags are off (warned once).
   */
  isAvailable(name: string, key?: FlagKey): boolean;
  /** Effective value in basis points (0 for unknown flags). */
  value(name: string): number;
  get(name: string): FlagInfo | undefined;
  /** Every flag known from the store, overrides and definitions, sorted by name. */
  list(): FlagInfo[];
  /** Write through the store; value in basis points, "25%", or a boolean. */
  set(name: string, value: number | string | boolean, options: SetFlagOptions): Promise<FlagInfo>;
  /** Delete from the store (the flag falls back to its code default). Resolves whether it existed. */
  remove(name: string, options: { by: string }): Promise<boolean>;
  /** Called after every change of an effective value; returns a function that unsubscribes. */
  onChange(listener: FlagChangeListener): () => void;
  readonly status: FlagsStatus;
}

export interface FlagsClientOptions {
  store: FlagStore;
  log: Logger;
  /** Per-instance values that win over the store (basis points). */
  overrides?: Readonly<Record<string, number>>;
}

/** Per-flag state; evaluation reads `value` and bumps a counter, nothing else. */
class FlagState {
  value = 0;
  source: FlagSource = 'default';
  stored: StoredFlag | null = null;
  override: number | undefined = undefined;
  defined = false;
  defaultValue = 0;
  codeDescription = '';
  codeOwner = '';
  /** Evaluations not yet told about "using the code default". */
  warnPending = false;
  warned = false;
  /** Snapshots this record survived for being newer than them (see #replace). */
  heldBack = 0;
  trueCount = 0;
  falseCount = 0;
  readonly prefix: HashPrefix;

  constructor(readonly name: string) {
    this.prefix = new HashPrefix(`${name}:`);
  }
}

function evaluate(state: FlagState, key: FlagKey): boolean {
  const value = state.value;
  let on: boolean;
  if (value >= BUCKETS) on = true;
  else if (value <= 0) on = false;
  else if (typeof key === 'string') on = state.prefix.bucket(key) < value;
  else {
    const k = typeof key === 'object' && key !== null ? key.key : key;
    if (k === undefined || k === null) on = randomBucket() < value;
    else on = state.prefix.bucket(typeof k === 'string' ? k : String(k)) < value;
  }
  // Plain fields, published (and reset, so they stay small integers) at scrape time.
  if (on) state.trueCount++;
  else state.falseCount++;
  return on;
}

function isStale(incoming: StoredFlag, current: StoredFlag): boolean {
  return (
    incoming.version !== undefined && current.version !== undefined && incoming.version < current.version
  );
}

function checkLength(field: string, value: string | undefined, max: number): void {
  if (value !== undefined && (typeof value !== 'string' || value.length > max))
    throw new FlagError(`${field} must be a string of at most ${max} characters`, 400, 'invalid_flag_field');
}

const MAX_WARNED_UNKNOWN = 1000;

/** The flags of one service: an in-memory snapshot kept current by a FlagStore. */
export class FlagsClient implements Flags {
  readonly store: FlagStore;
  readonly #log: Logger;
  readonly #flags = new Map<string, FlagState>();
  /** The last flag isAvailable found: callers evaluate one flag in a row far more often than not. */
  #lastName: string | undefined = undefined;
  #lastState: FlagState | undefined = undefined;
  readonly #warnedUnknown = new Set<string>();
  #listeners: FlagChangeListener[] = [];
  #up = false;
  #downWarned = false;
  #synced = false;
  #lastSyncAt = 0;
  #rejected = 0;
  #closed = false;
  readonly #startedAt = Date.now();
  readonly #sink: StoreSink;

  constructor(options: FlagsClientOptions) {
    this.store = options.store;
    this.#log = options.log;
    for (const [name, value] of Object.entries(options.overrides ?? {})) {
      assertFlagName(name);
      if (!isValidFlagValue(value)) throw new InvalidFlagValueError(value);
      const state = this.#create(name);
      state.override = value;
      this.#recompute(state);
    }
    if (this.#flags.size > 0)
      this.#log.warn(
        { overrides: options.overrides },
        'flag overrides in effect: they win over the flag store',
      );
    this.#sink = {
      replace: (records, asOf) => this.#replace(records, asOf),
      upsert: (record) => this.#upsert(record),
      remove: (name) => this.#removeStored(name),
      up: () => this.#markUp(),
      down: (error) => this.#markDown(error),
      reject: (reason) => this.#reject(reason),
    };
  }

  /** Start the store and wait for its first load (at most `timeoutMs`; later loads arrive in the background). */
  async start(timeoutMs = 5000): Promise<void> {
    const started = this.store.start(this.#sink).catch((err) => this.#markDown(err));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#log.warn(
          { store: this.store.kind, timeout_ms: timeoutMs },
          'flag store did not load in time: starting with defaults and overrides',
        );
        resolve();
      }, timeoutMs);
    });
    await Promise.race([started, timedOut]);
    clearTimeout(timer);
  }

  define(name: string, definition: FlagDefinition = {}): FlagHandle {
    assertFlagName(name);
    const raw = definition.default ?? false;
    const defaultValue = typeof raw === 'boolean' ? (raw ? MAX_FLAG_VALUE : 0) : raw;
    if (!isValidFlagValue(defaultValue))
      throw new InvalidFlagValueError(raw, `a boolean or an integer 0..${MAX_FLAG_VALUE} as the default`);
    const state = this.#flags.get(name) ?? this.#create(name);
    if (state.defined && state.defaultValue !== defaultValue)
      throw new Error(`flag '${name}' is already defined with default ${state.defaultValue}`);
    state.defined = true;
    state.defaultValue = defaultValue;
    if (definition.description !== undefined) state.codeDescription = definition.description;
    if (definition.owner !== undefined) state.codeOwner = definition.owner;
    this.#recompute(state);
    return {
      name,
      isAvailable: (key?: FlagKey) => {
        if (state.warnPending) this.#warnDefault(state);
        return evaluate(state, key);
      },
      value: () => state.value,
    };
  }

  isAvailable(name: string, key?: FlagKey): boolean {
    let state = this.#lastState;
    if (name !== this.#lastName || state === undefined) {
      state = this.#flags.get(name);
      if (state === undefined) return this.#unknown(name);
      this.#lastName = name;
      this.#lastState = state;
    }
    if (state.warnPending) this.#warnDefault(state);
    return evaluate(state, key);
  }

  value(name: string): number {
    const state = this.#flags.get(name);
    if (state === undefined) {
      this.#unknown(name);
      return 0;
    }
    if (state.warnPending) this.#warnDefault(state);
    return state.value;
  }

  get(name: string): FlagInfo | undefined {
    const state = this.#flags.get(name);
    return state && this.#info(state);
  }

  list(): FlagInfo[] {
    return [...this.#flags.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => this.#info(s));
  }

  async set(name: string, value: number | string | boolean, options: SetFlagOptions): Promise<FlagInfo> {
    assertFlagName(name);
    const basisPoints = parseFlagValue(value);
    checkLength('description', options.description, MAX_DESCRIPTION_LENGTH);
    checkLength('owner', options.owner, MAX_OWNER_LENGTH);
    const by = String(options.by ?? '').slice(0, MAX_UPDATED_BY_LENGTH);
    if (!this.store.writable) throw new FlagStoreReadOnlyError(this.store.kind);
    let stored: StoredFlag;
    try {
      stored = await this.store.write({
        name,
        value: basisPoints,
        by,
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.owner !== undefined ? { owner: options.owner } : {}),
      });
    } catch (err) {
      if (err instanceof FlagError) throw err;
      throw new FlagStoreUnavailableError(this.store.kind, err);
    }
    this.#applyStored(toStoredFlag(stored));
    return this.get(name)!;
  }

  async remove(name: string, options: { by: string }): Promise<boolean> {
    assertFlagName(name);
    if (!this.store.writable) throw new FlagStoreReadOnlyError(this.store.kind);
    let existed: boolean;
    try {
      existed = await this.store.remove(name, options.by);
    } catch (err) {
      if (err instanceof FlagError) throw err;
      throw new FlagStoreUnavailableError(this.store.kind, err);
    }
    this.#removeStored(name);
    return existed;
  }

  onChange(listener: FlagChangeListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  get status(): FlagsStatus {
    const since = this.#lastSyncAt || this.#startedAt;
    return {
      store: this.store.kind,
      up: this.#up,
      synced: this.#synced,
      lastSyncAt: this.#lastSyncAt ? new Date(this.#lastSyncAt).toISOString() : null,
      ageSeconds: Math.max(0, (Date.now() - since) / 1000),
    };
  }

  /** Publish the flag metrics into a service's registry; evaluation counters are read at scrape time. */
  registerMetrics(metrics: MetricsRegistry): void {
    const flags = this.#flags;
    const client = this;
    let publishedRejected = 0;
    metrics.counter({
      name: 'flag_evaluations_total',
      help: 'Flag evaluations by flag and result',
      labelNames: ['flag', 'result'] as const,
      collect() {
        for (const state of flags.values()) {
          const on = state.trueCount;
          const off = state.falseCount;
          state.trueCount = 0;
          state.falseCount = 0;
          if (on > 0) this.inc({ flag: state.name, result: 'true' }, on);
          if (off > 0) this.inc({ flag: state.name, result: 'false' }, off);
        }
      },
    });
    metrics.gauge({
      name: 'flag_value',
      help: 'Effective flag value in basis points (10000 = on for everyone)',
      labelNames: ['flag'] as const,
      collect() {
        this.reset();
        for (const state of flags.values()) this.set({ flag: state.name }, state.value);
      },
    });
    metrics.gauge({
      name: 'flags_last_update_age_seconds',
      help: 'Seconds since the flag store last delivered or confirmed the snapshot',
      collect() {
        this.set(client.status.ageSeconds);
      },
    });
    metrics.gauge({
      name: 'flags_store_up',
      help: 'Whether the flag store is reachable (0: serving the last good snapshot)',
      collect() {
        this.set(client.#up ? 1 : 0);
      },
    });
    metrics.counter({
      name: 'flags_rejected_updates_total',
      help: 'Flag updates rejected as invalid (the previous snapshot was kept)',
      collect() {
        const delta = client.#rejected - publishedRejected;
        if (delta > 0) this.inc(delta);
        publishedRejected += delta;
      },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners = [];
    await this.store.close();
  }

  #create(name: string): FlagState {
    const state = new FlagState(name);
    this.#flags.set(name, state);
    return state;
  }

  #info(state: FlagState): FlagInfo {
    const stored = state.stored;
    return {
      name: state.name,
      value: state.value,
      source: state.source,
      storeValue: stored ? stored.value : null,
      defaultValue: state.defined ? state.defaultValue : null,
      override: state.override ?? null,
      description: stored?.description || state.codeDescription,
      owner: stored?.owner || state.codeOwner,
      updatedAt: stored?.updatedAt ?? null,
      updatedBy: stored ? stored.updatedBy || null : null,
      version: stored?.version ?? null,
    };
  }

  #recompute(state: FlagState): void {
    const previous = state.value;
    const previousSource = state.source;
    if (state.override !== undefined) {
      state.value = state.override;
      state.source = 'override';
    } else if (state.stored) {
      state.value = state.stored.value;
      state.source = 'store';
    } else {
      state.value = state.defaultValue;
      state.source = 'default';
      if (!state.defined) {
        this.#flags.delete(state.name);
        if (this.#lastState === state) this.#lastState = undefined;
      }
    }
    state.warnPending = state.source === 'default' && state.defined && !state.warned;
    if (previous !== state.value || previousSource !== state.source) {
      const change: FlagChange = {
        name: state.name,
        value: state.value,
        previous,
        source: state.source,
        previousSource,
      };
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (err) {
          this.#log.error({ err, flag: state.name }, 'flag change listener failed');
        }
      }
    }
  }

  #applyStored(flag: StoredFlag): boolean {
    let state = this.#flags.get(flag.name);
    if (state?.stored && isStale(flag, state.stored)) return false;
    state ??= this.#create(flag.name);
    state.stored = flag;
    state.heldBack = 0;
    this.#recompute(state);
    return true;
  }

  /**
   * Replace the stored values with a complete snapshot. Without `asOf` the snapshot is the truth.
   * With it (a store version the snapshot is current to), a record this client holds with a newer
   * version was written after the snapshot was read and is kept, once: if the next snapshot still
   * disagrees, the store's versions went backwards (restored database) and the snapshot wins.
   */
  #replace(records: readonly unknown[], asOf?: number): boolean {
    const parsed: StoredFlag[] = [];
    const problems: string[] = [];
    const names = new Set<string>();
    for (const record of records) {
      try {
        const flag = toStoredFlag(record);
        if (names.has(flag.name)) throw new Error(`flag '${flag.name}' appears twice`);
        names.add(flag.name);
        parsed.push(flag);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0) {
      this.#reject(problems.join('; '));
      return false;
    }
    const holdBack = (state: FlagState): boolean => {
      const version = state.stored?.version;
      if (asOf === undefined || version === undefined || version <= asOf || state.heldBack > 0) return false;
      state.heldBack++;
      return true;
    };
    for (const state of [...this.#flags.values()]) {
      if (!state.stored || names.has(state.name) || holdBack(state)) continue;
      state.stored = null;
      state.heldBack = 0;
      this.#recompute(state);
    }
    for (const flag of parsed) {
      let state = this.#flags.get(flag.name);
      if (state?.stored && isStale(flag, state.stored) && holdBack(state)) continue;
      state ??= this.#create(flag.name);
      state.stored = flag;
      state.heldBack = 0;
      this.#recompute(state);
    }
    this.#synced = true;
    this.#lastSyncAt = Date.now();
    return true;
  }

  #upsert(record: unknown): boolean {
    let flag: StoredFlag;
    try {
      flag = toStoredFlag(record);
    } catch (err) {
      this.#reject((err as Error).message);
      return false;
    }
    this.#lastSyncAt = Date.now();
    return this.#applyStored(flag);
  }

  #removeStored(name: string): void {
    const state = this.#flags.get(name);
    if (!state?.stored) return;
    state.stored = null;
    this.#recompute(state);
  }

  #markUp(): void {
    this.#lastSyncAt = Date.now();
    if (this.#up) return;
    this.#up = true;
    if (this.#downWarned) {
      this.#downWarned = false;
      this.#log.info({ store: this.store.kind }, 'flag store reachable again');
    }
  }

  #markDown(error: unknown): void {
    this.#up = false;
    if (this.#downWarned || this.#closed) return;
    this.#downWarned = true;
    this.#log.warn(
      { err: error, store: this.store.kind },
      'flag store unreachable: serving the last good snapshot',
    );
  }

  #reject(reason: string): void {
    this.#rejected++;
    this.#log.warn(
      { store: this.store.kind, reason },
      'flag update rejected: keeping the last good snapshot',
    );
  }

  #unknown(name: string): false {
    if (this.#synced && !this.#warnedUnknown.has(name) && this.#warnedUnknown.size < MAX_WARNED_UNKNOWN) {
      this.#warnedUnknown.add(name);
      this.#log.warn(
        { flag: name },
        'unknown flag evaluated: not in the flag store and not defined in code; treating it as off',
      );
    }
    return false;
  }

  #warnDefault(state: FlagState): void {
    if (!this.#synced) return;
    state.warned = true;
    state.warnPending = false;
    this.#log.warn(
      { flag: state.name, default: state.defaultValue },
      'flag is not in the flag store: using the default declared in code',
    );
  }
}
