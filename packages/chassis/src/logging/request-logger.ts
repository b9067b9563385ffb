import type { FastifyBaseLogger } from 'fastify';
import pino, {
  type Bindings,
  type ChildLoggerOptions,
  type LevelWithSilentOrString,
  type Logger,
} from 'pino';
import { tagRequestLogger, traceLogMixin } from '../tracing/log-context.js';

const {
  chindingsSym,
  endSym,
  hooksSym,
  lsCacheSym,
  messageKeySym,
  mixinSym,
  needsMetadataGsym,
  nestedKeySym,
  streamSym,
  timeSym,
} = pino.symbols;

type Args = Parameters<pino.LogFn>;

/** What a line written by hand needs from a pino logger (kept under pino's exported symbols). */
interface Direct {
  stream: { write(line: string): unknown };
  levels: Record<number, string>;
  time: () => string;
  messageKey: string;
  end: string;
  /** The last line start made (level, time, the parent's bindings), and what it was made of. */
  head: string;
  headLevel: number;
  headTime: string;
  headBindings: string;
  /** The last line end made (message and terminator), and its message. */
  tail: string;
  tailMsg: string;
}

/** Per parent logger: the pieces to serialize access lines by hand, or null if pino must do it. */
const directs = new WeakMap<Logger, Direct | null>();
let lastParent: Logger | undefined;
let lastDirect: Direct | null = null;

function internal<T>(logger: Logger, symbol: symbol): T | undefined {
  return (logger as unknown as Record<symbol, T | undefined>)[symbol];
}

function direct(logger: Logger): Direct | null {
  // a service's requests all share one parent logger
  if (logger === lastParent) return lastDirect;
  let found = directs.get(logger);
  if (found === undefined) {
    const stream = internal<Direct['stream'] & Record<symbol, unknown>>(logger, streamSym);
    const levels = internal<Record<number, string>>(logger, lsCacheSym);
    const time = internal<() => string>(logger, timeSym);
    const messageKey = internal<string>(logger, messageKeySym);
    const end = internal<string>(logger, endSym);
    const mixin = internal<unknown>(logger, mixinSym);
    const usable =
      typeof stream?.write === 'function' &&
      stream[needsMetadataGsym] !== true &&
      internal<{ streamWrite?: unknown }>(logger, hooksSym)?.streamWrite === undefined &&
      internal<string>(logger, nestedKeySym) == null &&
      typeof levels?.[30] === 'string' &&
      typeof levels[50] === 'string' &&
      typeof time === 'function' &&
      typeof messageKey === 'string' &&
      typeof end === 'string' &&
      (mixin === undefined || mixin === traceLogMixin) &&
      !logger.msgPrefix;
    found = usable
      ? {
          stream,
          levels,
          time,
          messageKey,
          end,
          head: '',
          headLevel: 0,
          headTime: '',
          headBindings: '',
          tail: '',
          tailMsg: '',
        }
      : null;
    directs.set(logger, found);
  }
  lastParent = logger;
  lastDirect = found;
  return found;
}

/** `,"key":` for binding keys (a handful per process). */
const keyPrefixes = new Map<string, string>();

function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `,${JSON.stringify(key)}:`;
    if (keyPrefixes.size < 100) keyPrefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * `request.log`: a pino child logger bound to the request id, created on first use. Most requests
 * never log anything but their access line, which is written without a child logger (`access`), so
 * the per-request pino child (and its bindings serialization) is only paid by requests that log.
 *
 * Changing the root logger's level applies to request loggers not yet materialized, and (as in
 * pino) to materialized ones that did not set their own level.
 */
export class RequestLogger implements FastifyBaseLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  readonly #raw: object | undefined;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions, raw?: object) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
    this.#raw = raw;
  }

  /** The underlying pino child logger (created now if needed). */
  get pino(): Logger {
    if (this.#child === undefined) {
      this.#child = this.#parent.child(this.#bindings, this.#options);
      // the trace mixin finds the request's span through it when no context is active
      if (this.#raw !== undefined) tagRequestLogger(this.#child, this.#raw);
    }
    return this.#child;
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.pino.level = level;
  }

  get levelVal(): number {
    if (this.#child) return this.#child.levelVal;
    const level = this.#options.level;
    return level ? (this.#parent.levels.values[level] ?? this.#parent.levelVal) : this.#parent.levelVal;
  }

  isLevelEnabled(level: string): boolean {
    const value = this.#parent.levels.values[level];
    return value !== undefined && value >= this.levelVal;
  }

  fatal(...args: Args): void {
    this.pino.fatal(...args);
  }
  error(...args: Args): void {
    this.pino.error(...args);
  }
  warn(...args: Args): void {
    this.pino.warn(...args);
  }
  info(...args: Args): void {
    this.pino.info(...args);
  }
  debug(...args: Args): void {
    this.pino.debug(...args);
  }
  trace(...args: Args): void {
    this.pino.trace(...args);
  }
  silent(..._args: Args): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.pino.child(bindings, options);
  }

  bindings(): Bindings {
    return this.#child ? this.#child.bindings() : { ...this.#parent.bindings(), ...this.#bindings };
  }

  setBindings(bindings: Bindings): void {
    this.pino.setBindings(bindings);
  }

  flush(cb?: (err?: Error) => void): void {
    this.#parent.flush(cb);
  }

  /**
   * Write a line made of pre-serialized JSON `fields` (each `,"key":value`) and a message that
   * needs no escaping, exactly as pino would (same level, time and bindings prefix), without a
   * child logger, mixin or redaction walk: the caller includes trace ids itself and writes only
   * known-safe keys. Returns false, writing nothing, when pino has to write the line instead: the
   * logger is not a plain chassis logger, or this request logger was materialized (its bindings or
   * level may have changed).
   */
  write(levelValue: 30 | 50, fields: string, msg: string): boolean {
    const d = this.#child === undefined ? direct(this.#parent) : null;
    if (d === null) return false;
    if (levelValue < this.levelVal) return true;
    // lines of one millisecond share their start (the time string is the same instance), and
    // access lines their end: fewer pieces to join and to encode
    const time = d.time();
    const parentBindings = internal<string>(this.#parent, chindingsSym) ?? '';
    if (time !== d.headTime || levelValue !== d.headLevel || parentBindings !== d.headBindings) {
      d.head = `${d.levels[levelValue]}${time}${parentBindings}`;
      d.headTime = time;
      d.headLevel = levelValue;
      d.headBindings = parentBindings;
    }
    if (msg !== d.tailMsg) {
      d.tail = `,"${d.messageKey}":"${msg}"${d.end}`;
      d.tailMsg = msg;
    }
    let bindings = '';
    for (const key in this.#bindings) {
      const value = this.#bindings[key];
      if (value !== undefined) bindings += keyPrefix(key) + JSON.stringify(value);
    }
    d.stream.write(d.head + bindings + fields + d.tail);
    return true;
  }
}

/** Fastify `childLoggerFactory` giving every request a lazily created RequestLogger. */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
  raw?: object,
): FastifyBaseLogger {
  return new RequestLogger(logger as unknown as Logger, bindings, options, raw);
}
