/**
 * A Splunk HTTP Event Collector (HEC)-compatible receiver for tests and local demos. It is not
 * Splunk: it indexes nothing and searches nothing. It answers the HEC endpoints with Splunk's
 * status codes and bodies, keeps what it accepted in memory, and lets a test inject faults.
 * See packages/testkit/docs/hec.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { AckStore } from './acks.js';
import { HecCode, type HecReply, hecReply } from './codes.js';
import { type FaultHandle, FaultRegistry, type FaultSpec, type HecEndpoint } from './faults.js';
import { isValidChannel, nextObject, parseTime, splitRawLines, validateEventObject } from './parse.js';

/** Per-token settings, as on a Splunk HEC token. */
export interface HecTokenConfig {
  /** Token name, used for the default `source` (`http:<name>`). Default `fleet-hec`. */
  name?: string;
  /** Allowed indexes. An event naming another index is refused with code 7. Default: any. */
  indexes?: readonly string[];
  /** Index for events that name none. Default `main`. */
  defaultIndex?: string;
  /** A disabled token is refused with 403 code 1. */
  disabled?: boolean;
  /** Indexer acknowledgement for this token (overrides the receiver's `ack`). */
  ack?: boolean;
  /** Accept the token in the `?token=` query string (else code 16). Default false, like Splunk. */
  allowQueryStringAuth?: boolean;
  defaultSourcetype?: string;
  defaultSource?: string;
  defaultHost?: string;
}

export interface HecReceiverOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** One token with default settings. */
  token?: string;
  /** Tokens and their settings. With neither `token` nor `tokens`, any token is accepted. */
  tokens?: Record<string, HecTokenConfig>;
  /** Indexes that exist; an event naming another is refused with code 7. Default: all exist. */
  indexes?: readonly string[];
  /** Largest request body accepted, in wire (possibly gzip) bytes; above it: 413. Default 800 MiB. */
  maxContentLength?: number;
  /** Largest body after gunzip; above it: 413. Default 1 GiB. */
  maxDecompressedLength?: number;
  /** Indexer acknowledgement for every token that does not say otherwise. Default false. */
  ack?: boolean;
  /** Delay before an ackId reads true. Default 0. */
  ackDelayMs?: number;
  /**
   * /raw requires a channel even without acks, as Splunk documents. Default true; set false to
   * accept channel-less raw requests when acks are off.
   */
  rawRequiresChannel?: boolean;
  /**
   * What happens to the events before the first invalid one of a batch. Splunk processes a batch
   * in order and stops at the first bad event, so the events before it are indexed
   * ('index-preceding', the default). 'reject-all' accepts none of the batch.
   */
  partialBatch?: 'index-preceding' | 'reject-all';
  /** Keep accepted events in `events`. Default true; false only counts (and calls onEvent/eventId). */
  keepEvents?: boolean;
  /** Extracts an id from each accepted event; ids are recorded in `ids` and counted in `idCounts`. */
  eventId?: (event: HecEvent) => string | undefined;
  /** Called for each accepted event, in arrival order. */
  onEvent?: (event: HecEvent) => void;
  /** Seed of the RNG behind probabilistic faults. */
  seed?: number;
}

/** An accepted event, with the metadata Splunk would index it with. */
export interface HecEvent {
  /** Endpoint it came through. */
  endpoint: 'event' | 'raw';
  index: string;
  sourcetype: string;
  source: string;
  host: string;
  /** Event time in epoch seconds: as sent, or the arrival time when none was sent. */
  time: number;
  /** The `event` value as sent (for /raw: the line). */
  event: unknown;
  /** Indexed fields as sent (/event only). */
  fields?: Record<string, unknown>;
  /** Request channel, when there was one. */
  channel?: string;
  /** Token the request authenticated with. */
  token: string;
  /** ackId of the request, when acks are on. */
  ackId?: number;
  /** Arrival time, ms epoch. */
  receivedAt: number;
}

export interface HecRequestStats {
  /** Requests fully received (any endpoint, any outcome). */
  count: number;
  /** Request body bytes as received on the wire. */
  bytes: number;
  /** Request body bytes after gunzip. */
  decompressedBytes: number;
  /** Responses by HTTP status. */
  byStatus: Record<number, number>;
  /** Requests by endpoint (`event`, `raw`, `ack`, `health`, `unknown`). */
  byEndpoint: Record<string, number>;
  /** Connections reset by a fault. */
  resets: number;
  /** Requests whose client left during a before-accept delay (nothing accepted). */
  abandoned: number;
}

export interface HecReceiver {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly port: number;
  /** Accepted events in arrival order (empty when keepEvents is false). */
  readonly events: readonly HecEvent[];
  /** Number of accepted events (also counted when keepEvents is false). */
  readonly acceptedCount: number;
  /** Number of events refused (the invalid one and those after it, or a whole refused batch). */
  readonly rejectedCount: number;
  /** Ids of accepted events, when `eventId` is set, in arrival order. */
  readonly ids: readonly string[];
  /** How many times each id was accepted (duplicates show as > 1). */
  readonly idCounts: ReadonlyMap<string, number>;
  readonly requests: Readonly<HecRequestStats>;
  /** Fault injection. */
  readonly faults: FaultRegistry;
  /** ackIds issued on a channel and not yet reported true. */
  pendingAcks(channel: string): number[];
  /** Ids accepted more than once. */
  duplicateIds(): string[];
  /** Clears events, ids, counters, acks and faults. */
  reset(): void;
  /** Resolves once at least `n` events have been accepted in all; rejects after `timeoutMs`. */
  waitForEvents(n: number, timeoutMs?: number): Promise<readonly HecEvent[]>;
  close(): Promise<void>;
}

const DEFAULT_MAX_CONTENT = 800 * 1024 * 1024;
const DEFAULT_MAX_DECOMPRESSED = 1024 * 1024 * 1024;
const NOT_FOUND = { text: 'The requested URL was not found on this server.', code: 404 };

type Route = { endpoint: HecEndpoint; method: 'GET' | 'POST' };

const ROUTES: Record<string, Route> = {
  '/services/collector': { endpoint: 'event', method: 'POST' },
  '/services/collector/event': { endpoint: 'event', method: 'POST' },
  '/services/collector/event/1.0': { endpoint: 'event', method: 'POST' },
  '/services/collector/raw': { endpoint: 'raw', method: 'POST' },
  '/services/collector/raw/1.0': { endpoint: 'raw', method: 'POST' },
  '/services/collector/ack': { endpoint: 'ack', method: 'POST' },
  '/services/collector/health': { endpoint: 'health', method: 'GET' },
  '/services/collector/health/1.0': { endpoint: 'health', method: 'GET' },
};

interface ResolvedToken {
  value: string;
  config: HecTokenConfig;
}

interface Waiter {
  n: number;
  resolve: (events: readonly HecEvent[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class Receiver implements HecReceiver {
  url = '';
  port = 0;
  readonly events: HecEvent[] = [];
  acceptedCount = 0;
  rejectedCount = 0;
  readonly ids: string[] = [];
  readonly idCounts = new Map<string, number>();
  readonly requests: HecRequestStats = Receiver.zeroStats();
  readonly faults: FaultRegistry;

  private readonly server: Server;
  private readonly acks = new AckStore();
  private readonly tokens: Map<string, HecTokenConfig> | undefined;
  private readonly knownIndexes: Set<string> | undefined;
  private readonly allowedByToken = new Map<HecTokenConfig, Set<string> | undefined>();
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly keepEvents: boolean;

  constructor(private readonly opts: HecReceiverOptions) {
    this.faults = new FaultRegistry(opts.seed);
    this.keepEvents = opts.keepEvents ?? true;
    if (opts.tokens || opts.token !== undefined) {
      this.tokens = new Map(Object.entries(opts.tokens ?? {}));
      if (opts.token !== undefined && !this.tokens.has(opts.token)) this.tokens.set(opts.token, {});
    }
    this.knownIndexes = opts.indexes ? new Set(opts.indexes) : undefined;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A client that hangs up mid-upload is routine (timeouts, resets): nothing to report.
        if (req.socket.destroyed || req.destroyed) return;
        if (!res.headersSent) this.send(res, hecReply(HecCode.INTERNAL_SERVER_ERROR));
        process.emitWarning(`HEC receiver: ${err instanceof Error ? err.stack : String(err)}`);
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  private static zeroStats(): HecRequestStats {
    return {
      count: 0,
      bytes: 0,
      decompressedBytes: 0,
      byStatus: {},
      byEndpoint: {},
      resets: 0,
      abandoned: 0,
    };
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    this.port = addr.port;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
  }

  // ---- public API -------------------------------------------------------------------------

  pendingAcks(channel: string): number[] {
    return this.acks.pending(channel);
  }

  duplicateIds(): string[] {
    const out: string[] = [];
    for (const [id, n] of this.idCounts) if (n > 1) out.push(id);
    return out;
  }

  reset(): void {
    this.events.length = 0;
    this.ids.length = 0;
    this.idCounts.clear();
    this.acceptedCount = 0;
    this.rejectedCount = 0;
    Object.assign(this.requests, Receiver.zeroStats());
    this.acks.clear();
    this.faults.resetAll();
  }

  waitForEvents(n: number, timeoutMs = 5_000): Promise<readonly HecEvent[]> {
    if (this.acceptedCount >= n) return Promise.resolve(this.events.slice());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        n,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(`HEC receiver: waited ${timeoutMs} ms for ${n} events, got ${this.acceptedCount}`),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('HEC receiver closed'));
    }
    this.waiters.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // ---- request handling ---------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const route = ROUTES[path];
    const endpoint = route?.endpoint ?? 'unknown';

    const maxWire = this.opts.maxContentLength ?? DEFAULT_MAX_CONTENT;
    const body = await readBody(req, maxWire);
    this.requests.count++;
    this.requests.bytes += body.bytes;
    this.requests.byEndpoint[endpoint] = (this.requests.byEndpoint[endpoint] ?? 0) + 1;

    if (!route || route.method !== req.method) {
      this.sendJson(res, 404, NOT_FOUND);
      return;
    }

    // Server-level faults, before anything is looked at.
    const fault = this.faults.fire(['reset', 'busy', 'respond', 'delay'], route.endpoint, (s) =>
      s.kind === 'reset' || s.kind === 'delay' ? (s.phase ?? 'before-accept') === 'before-accept' : true,
    );
    if (fault) {
      if (fault.kind === 'reset') return this.resetConnection(req);
      if (fault.kind === 'busy') {
        const code = route.endpoint === 'health' ? HecCode.UNHEALTHY_QUEUES_FULL : HecCode.SERVER_BUSY;
        return this.send(res, hecReply(code));
      }
      if (fault.kind === 'respond') return this.sendFaultReply(res, fault);
      if (fault.kind === 'delay') {
        await this.sleep(fault.ms);
        if (req.socket.destroyed) {
          this.requests.abandoned++;
          return;
        }
      }
    }

    if (body.tooLarge) {
      this.sendJson(res, 413, {
        text: `Content-Length of ${body.bytes} too large (maximum is ${maxWire})`,
        code: 413,
      });
      return;
    }

    if (route.endpoint === 'health') {
      this.send(res, hecReply(HecCode.HEALTHY));
      return;
    }

    const auth = this.authenticate(req, query);
    if ('status' in auth) return this.send(res, auth);
    if (this.faults.fire(['tokenDisabled'], route.endpoint))
      return this.send(res, hecReply(HecCode.TOKEN_DISABLED));

    const ackOn = auth.config.ack ?? this.opts.ack ?? false;
    const channel = headerValue(req.headers['x-splunk-request-channel']) ?? query.get('channel') ?? undefined;
    if (route.endpoint === 'ack' && !ackOn) return this.send(res, hecReply(HecCode.ACK_DISABLED));
    const channelRequired =
      ackOn ||
      route.endpoint === 'ack' ||
      (route.endpoint === 'raw' && (this.opts.rawRequiresChannel ?? true));
    if (channel === undefined || channel === '') {
      if (channelRequired) return this.send(res, hecReply(HecCode.DATA_CHANNEL_MISSING));
    } else if (!isValidChannel(channel)) {
      return this.send(res, hecReply(HecCode.INVALID_DATA_CHANNEL));
    }

    let payload: Buffer = body.data;
    const encoding = headerValue(req.headers['content-encoding'])?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      if (encoding !== 'gzip') return this.send(res, hecReply(HecCode.INVALID_DATA_FORMAT));
      try {
        payload = gunzipSync(payload, {
          maxOutputLength: this.opts.maxDecompressedLength ?? DEFAULT_MAX_DECOMPRESSED,
          // Bigger output chunks than zlib's 16 KiB default: ~30% less CPU on batch-sized bodies.
          chunkSize: Math.min(1 << 20, Math.max(64 * 1024, payload.length * 4)),
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          this.sendJson(res, 413, { text: 'Content too large after decompression', code: 413 });
          return;
        }
        return this.send(res, hecReply(HecCode.INVALID_DATA_FORMAT));
      }
    }
    this.requests.decompressedBytes += payload.length;
    const text = payload.toString('utf8');

    if (route.endpoint === 'ack') return this.send(res, this.answerAcks(text, channel as string));

    const ctx: BatchContext = {
      endpoint: route.endpoint,
      token: auth,
      channel: channel || undefined,
      ackOn,
      receivedAt: Date.now(),
      host: headerValue(req.headers.host) ?? 'localhost',
      query,
    };
    const outcome = route.endpoint === 'raw' ? this.processRaw(text, ctx) : this.processEvents(text, ctx);
    if (outcome.accepted === undefined) return this.send(res, outcome.reply);

    // Late faults: the events are accepted (indexed) whatever happens to the answer.
    const late = this.faults.fire(['reset', 'delay'], route.endpoint, (s) => s.phase === 'after-accept');
    if (late?.kind === 'reset') return this.resetConnection(req);
    if (late?.kind === 'delay') await this.sleep(late.ms);
    this.send(res, outcome.reply);
  }

  private authenticate(req: IncomingMessage, query: URLSearchParams): ResolvedToken | HecReply {
    const header = headerValue(req.headers.authorization);
    let token: string | undefined;
    if (header !== undefined) {
      const m = /^(\S+)(?:\s+(.*))?$/.exec(header.trim());
      const scheme = m?.[1]?.toLowerCase();
      const rest = m?.[2]?.trim() ?? '';
      if (scheme === 'splunk') {
        if (rest === '') return hecReply(HecCode.TOKEN_REQUIRED);
        token = rest;
      } else if (scheme === 'basic') {
        const decoded = Buffer.from(rest, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) return hecReply(HecCode.INVALID_AUTHORIZATION);
        token = decoded.slice(colon + 1);
        if (token === '') return hecReply(HecCode.TOKEN_REQUIRED);
      } else {
        return hecReply(HecCode.INVALID_AUTHORIZATION);
      }
      const config = this.lookupToken(token);
      if (!config) return hecReply(HecCode.INVALID_TOKEN);
      if (config.disabled) return hecReply(HecCode.TOKEN_DISABLED);
      return { value: token, config };
    }
    const fromQuery = query.get('token');
    if (fromQuery === null || fromQuery === '') return hecReply(HecCode.TOKEN_REQUIRED);
    const config = this.lookupToken(fromQuery);
    if (!config) return hecReply(HecCode.INVALID_TOKEN);
    if (!config.allowQueryStringAuth) return hecReply(HecCode.QUERY_STRING_AUTH_DISABLED);
    if (config.disabled) return hecReply(HecCode.TOKEN_DISABLED);
    return { value: fromQuery, config };
  }

  private lookupToken(token: string): HecTokenConfig | undefined {
    if (!this.tokens) return ANY_TOKEN;
    return this.tokens.get(token);
  }

  private indexAllowed(config: HecTokenConfig): (index: string) => boolean {
    let allowed = this.allowedByToken.get(config);
    if (!this.allowedByToken.has(config)) {
      allowed = config.indexes ? new Set(config.indexes) : undefined;
      this.allowedByToken.set(config, allowed);
    }
    const known = this.knownIndexes;
    return (index) =>
      (allowed === undefined || allowed.has(index)) && (known === undefined || known.has(index));
  }

  private processEvents(text: string, ctx: BatchContext): BatchOutcome {
    const allowed = this.indexAllowed(ctx.token.config);
    const accepted: HecEvent[] = [];
    const checkFaults = this.faults.has(['invalidEvent'], ctx.endpoint);
    let pos = 0;
    let n = 0;
    for (; ; n++) {
      const step = nextObject(text, pos);
      if (step.kind === 'end') break;
      let code: number = HecCode.INVALID_DATA_FORMAT;
      if (step.kind === 'object') {
        const obj = step.value;
        code = validateEventObject(obj, allowed);
        if (code === 0 && checkFaults) code = this.injectedInvalid(ctx.endpoint, obj, n);
        if (code === 0) {
          accepted.push(this.recordFromObject(obj, ctx));
          pos = step.next;
          continue;
        }
      }
      return this.refuse(accepted, code, n, text, pos);
    }
    if (n === 0) return { reply: hecReply(HecCode.NO_DATA) };
    return this.accept(accepted, ctx);
  }

  private processRaw(text: string, ctx: BatchContext): BatchOutcome {
    const q = ctx.query;
    const index = q.get('index') || ctx.token.config.defaultIndex || 'main';
    const userIndex = q.get('index');
    if (userIndex && !this.indexAllowed(ctx.token.config)(userIndex))
      return { reply: hecReply(HecCode.INCORRECT_INDEX) };
    let time = ctx.receivedAt / 1000;
    const qTime = q.get('time');
    if (qTime !== null) {
      const t = parseTime(qTime);
      if (t === null) return { reply: hecReply(HecCode.INVALID_DATA_FORMAT) };
      time = t;
    }
    const lines = splitRawLines(text);
    if (lines.length === 0) return { reply: hecReply(HecCode.NO_DATA) };
    const cfg = ctx.token.config;
    const checkFaults = this.faults.has(['invalidEvent'], ctx.endpoint);
    const accepted: HecEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (checkFaults) {
        const code = this.injectedInvalid(ctx.endpoint, line, i);
        if (code !== 0) {
          this.rejectedCount += lines.length - i;
          return this.refuseCounted(accepted, code, i);
        }
      }
      accepted.push({
        endpoint: 'raw',
        index,
        sourcetype: q.get('sourcetype') || cfg.defaultSourcetype || 'httpevent',
        source: q.get('source') || cfg.defaultSource || `http:${cfg.name ?? DEFAULT_TOKEN_NAME}`,
        host: q.get('host') || cfg.defaultHost || ctx.host,
        time,
        event: line,
        channel: ctx.channel,
        token: ctx.token.value,
        receivedAt: ctx.receivedAt,
      });
    }
    return this.accept(accepted, ctx);
  }

  private injectedInvalid(endpoint: HecEndpoint, event: Record<string, unknown> | string, n: number): number {
    const fault = this.faults.fire(['invalidEvent'], endpoint, (s) =>
      s.eventIndex !== undefined ? s.eventIndex === n : (s.match?.(event, n) ?? false),
    );
    return fault ? (fault.code ?? HecCode.INVALID_DATA_FORMAT) : 0;
  }

  private recordFromObject(obj: Record<string, unknown>, ctx: BatchContext): HecEvent {
    const cfg = ctx.token.config;
    const record: HecEvent = {
      endpoint: 'event',
      index: (obj.index as string | undefined) || cfg.defaultIndex || 'main',
      sourcetype: (obj.sourcetype as string | undefined) ?? cfg.defaultSourcetype ?? 'httpevent',
      source:
        (obj.source as string | undefined) ?? cfg.defaultSource ?? `http:${cfg.name ?? DEFAULT_TOKEN_NAME}`,
      host: (obj.host as string | undefined) ?? cfg.defaultHost ?? ctx.host,
      time: obj.time === undefined ? ctx.receivedAt / 1000 : (parseTime(obj.time) as number),
      event: obj.event,
      channel: ctx.channel,
      token: ctx.token.value,
      receivedAt: ctx.receivedAt,
    };
    if (obj.fields !== undefined && obj.fields !== null)
      record.fields = obj.fields as Record<string, unknown>;
    return record;
  }

  /** Refuses a batch at event `n`; counts the refused events by scanning the rest of the body. */
  private refuse(accepted: HecEvent[], code: number, n: number, text: string, pos: number): BatchOutcome {
    let rest = 0;
    let p = pos;
    for (;;) {
      const step = nextObject(text, p);
      if (step.kind !== 'object') {
        if (step.kind === 'invalid') rest++;
        break;
      }
      rest++;
      p = step.next;
    }
    this.rejectedCount += Math.max(rest, 1);
    return this.refuseCounted(accepted, code, n);
  }

  private refuseCounted(accepted: HecEvent[], code: number, n: number): BatchOutcome {
    const reply = hecReply(code, { invalidEventNumber: n });
    if ((this.opts.partialBatch ?? 'index-preceding') === 'reject-all') {
      this.rejectedCount += accepted.length;
      return { reply };
    }
    this.commit(accepted);
    return { reply, accepted };
  }

  private accept(accepted: HecEvent[], ctx: BatchContext): BatchOutcome {
    let ackId: number | undefined;
    if (ctx.ackOn) {
      const ackFault = this.faults.fire(['neverAck', 'ackDelay'], ctx.endpoint);
      const delay =
        ackFault?.kind === 'neverAck'
          ? Number.POSITIVE_INFINITY
          : ackFault?.kind === 'ackDelay'
            ? ackFault.ms
            : (this.opts.ackDelayMs ?? 0);
      ackId = this.acks.issue(ctx.channel as string, Date.now() + delay);
      for (const e of accepted) e.ackId = ackId;
    }
    this.commit(accepted);
    return { reply: hecReply(HecCode.SUCCESS, { ackId }), accepted };
  }

  private commit(accepted: HecEvent[]): void {
    const { onEvent, eventId } = this.opts;
    for (const e of accepted) {
      if (this.keepEvents) this.events.push(e);
      if (eventId) {
        const id = eventId(e);
        if (id !== undefined) {
          this.ids.push(id);
          this.idCounts.set(id, (this.idCounts.get(id) ?? 0) + 1);
        }
      }
      if (onEvent) {
        try {
          onEvent(e);
        } catch (err) {
          process.emitWarning(
            `HEC receiver onEvent threw: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    }
    this.acceptedCount += accepted.length;
    if (accepted.length > 0 && this.waiters.size > 0) {
      for (const w of this.waiters) {
        if (this.acceptedCount >= w.n) {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          w.resolve(this.events.slice());
        }
      }
    }
  }

  private answerAcks(text: string, channel: string): HecReply | { status: number; body: unknown } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return hecReply(HecCode.INVALID_DATA_FORMAT);
    }
    const ids = (parsed as { acks?: unknown } | null)?.acks;
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x) && x >= 0)) {
      return hecReply(HecCode.INVALID_DATA_FORMAT);
    }
    return { status: 200, body: { acks: this.acks.query(channel, ids as number[]) } };
  }

  private sendFaultReply(res: ServerResponse, fault: Extract<FaultSpec, { kind: 'respond' }>): void {
    if (fault.body !== undefined) {
      const status = fault.status ?? 500;
      const payload = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
      this.write(res, status, payload);
      return;
    }
    if (fault.code !== undefined) {
      const base = hecReplyOrCustom(fault.code);
      this.sendJson(res, fault.status ?? base.status, { text: fault.text ?? base.text, code: fault.code });
      return;
    }
    this.sendJson(res, fault.status ?? 500, { text: fault.text ?? 'Internal server error', code: 8 });
  }

  private resetConnection(req: IncomingMessage): void {
    this.requests.resets++;
    const socket = req.socket as Socket & { resetAndDestroy?: () => void };
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private send(res: ServerResponse, reply: { status: number; body: unknown }): void {
    this.sendJson(res, reply.status, reply.body);
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    this.write(res, status, JSON.stringify(body));
  }

  private write(res: ServerResponse, status: number, payload: string): void {
    if (res.destroyed) return;
    this.requests.byStatus[status] = (this.requests.byStatus[status] ?? 0) + 1;
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=UTF-8',
      'Content-Length': Buffer.byteLength(payload),
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(payload);
  }
}

const DEFAULT_TOKEN_NAME = 'fleet-hec';
const ANY_TOKEN: HecTokenConfig = {};

interface BatchContext {
  endpoint: HecEndpoint;
  token: ResolvedToken;
  channel: string | undefined;
  ackOn: boolean;
  receivedAt: number;
  host: string;
  query: URLSearchParams;
}

interface BatchOutcome {
  reply: HecReply;
  /** Set when events were accepted (all, or those before the invalid one). */
  accepted?: HecEvent[];
}

function hecReplyOrCustom(code: number): { status: number; text: string } {
  try {
    const r = hecReply(code);
    return { status: r.status, text: r.body.text };
  } catch {
    return { status: 500, text: 'Internal server error' };
  }
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** Reads a whole body; past `max` bytes it stops keeping data but drains, so the 413 is readable. */
function readBody(
  req: IncomingMessage,
  max: number,
): Promise<{ data: Buffer; bytes: number; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (tooLarge) return;
      if (bytes > max) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      resolve({ data, bytes, tooLarge });
    });
    req.on('error', reject);
  });
}

/** Starts a HEC-compatible receiver; resolves once it listens. */
export async function startHecReceiver(opts: HecReceiverOptions = {}): Promise<HecReceiver> {
  const receiver = new Receiver(opts);
  await receiver.listen();
  return receiver;
}

export type { FaultHandle };
