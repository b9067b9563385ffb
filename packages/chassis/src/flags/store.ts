import type { FlagWrite, StoredFlag } from './model.js';

/**
 * What a store reports to the flags client. Records are validated by the client: a record that
 * fails validation is rejected with a warning and the last good snapshot stays in place.
 */
export interface StoreSink {
  /**
   * The complete set of flags. Atomic: one invalid record rejects the whole update. `asOf` (a store
   * version) keeps flags written after the snapshot was read. Returns whether it was applied.
   */
  replace(records: readonly unknown[], asOf?: number): boolean;
  /** One flag created or changed. Returns whether it was applied. */
  upsert(record: unknown): boolean;
  /** One flag deleted. */
  remove(name: string): void;
  /** The store is reachable and the snapshot is current (also refreshes the snapshot age). */
  up(): void;
  /** The store is unreachable: keep serving the snapshot. */
  down(error: unknown): void;
  /** The store delivered something unusable (unparsable document, ...): rejected, snapshot kept. */
  reject(reason: string): void;
}

/** A backend holding flags and pushing (or being polled for) changes. One store serves one client. */
export interface FlagStore {
  /** memory | postgres | file | http, or a custom name. */
  readonly kind: string;
  /** Whether `write` is supported (file stores are read-only). */
  readonly writable: boolean;
  /**
   * Load the flags and keep the sink informed from now on. Resolves after the first load attempt,
   * successful or not; a store that cannot reach its backend retries in the background.
   */
  start(sink: StoreSink): Promise<void>;
  /** Create or update a flag; resolves with the stored record. Throws when the backend is unreachable. */
  write(change: FlagWrite): Promise<StoredFlag>;
  /** Delete a flag; resolves with whether it existed. */
  remove(name: string, by: string): Promise<boolean>;
  /** Stop watching and release connections. */
  close(): Promise<void>;
}

/** Flags in this process only: the default store, for tests and single-instance services. */
export class MemoryFlagStore implements FlagStore {
  readonly kind = 'memory';
  readonly writable = true;
  readonly #flags = new Map<string, StoredFlag>();
  #version = 0;

  constructor(initial: Array<Pick<StoredFlag, 'name' | 'value'> & Partial<StoredFlag>> = []) {
    for (const flag of initial) {
      this.#flags.set(flag.name, {
        description: '',
        owner: '',
        updatedAt: null,
        updatedBy: '',
        ...flag,
        version: ++this.#version,
      });
    }
  }

  async start(sink: StoreSink): Promise<void> {
    sink.replace([...this.#flags.values()]);
    sink.up();
  }

  async write(change: FlagWrite): Promise<StoredFlag> {
    const existing = this.#flags.get(change.name);
    const flag: StoredFlag = {
      name: change.name,
      value: change.value,
      description: change.description ?? existing?.description ?? '',
      owner: change.owner ?? existing?.owner ?? '',
      updatedAt: new Date().toISOString(),
      updatedBy: change.by,
      version: ++this.#version,
    };
    this.#flags.set(change.name, flag);
    return flag;
  }

  async remove(name: string): Promise<boolean> {
    return this.#flags.delete(name);
  }

  async close(): Promise<void> {}
}
