/**
 * One client connection: splits the byte stream into size-prefixed frames, handles requests one
 * at a time in arrival order (like a Kafka broker, which mutes a channel while a request is in
 * flight), applies fault rules and SASL gating, and writes responses. Bad input closes this
 * connection with a log line and never affects the broker or other connections.
 */
import type { Socket } from 'node:net';
import { ApiKey, apiKeyName } from './api-keys.js';
import type { Cluster } from './cluster.js';
import { ProtocolParseError, Reader, Writer } from './codec.js';
import { ErrorCode } from './error-codes.js';
import { encodeApiVersionsFallback, handlerFor, supportedApis } from './handlers/index.js';
import { verifyPlain } from './handlers/sasl.js';
import { NO_RESPONSE, type RequestContext, type SaslConnectionState } from './handlers/types.js';

/** Smallest possible request: api key, api version, correlation id, client id length. */
const MIN_REQUEST_BYTES = 10;
const PAUSE_QUEUE_LENGTH = 64;
const RESUME_QUEUE_LENGTH = 8;
const PRE_AUTH_APIS = new Set<number>([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

export class Connection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private frameSize = -1;
  private readonly queue: Buffer[] = [];
  private processing = false;
  private paused = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly sasl: SaslConnectionState = {
    mechanism: null,
    handshakeVersion: 1,
    authenticated: false,
    user: null,
    closeAfterResponse: false,
  };
  private clientId = '';
  readonly clientHost: string;
  readonly remote: string;

  constructor(
    private readonly socket: Socket,
    private readonly cluster: Cluster,
    private readonly nodeId: number,
    onClose: (c: Connection) => void,
  ) {
    this.clientHost = `/${socket.remoteAddress ?? 'unknown'}`;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      if (!this.closed)
        this.cluster.log(`broker ${this.nodeId}: connection ${this.remote} error: ${err.message}`);
    });
    socket.on('close', () => {
      this.closed = true;
      this.abort.abort();
      this.queue.length = 0;
      this.chunks = [];
      onClose(this);
    });
  }

  /** Close the connection immediately (fault injection, broker stop, bad input). */
  destroy(reason?: string): void {
    if (reason) this.cluster.log(`broker ${this.nodeId}: closing connection ${this.remote}: ${reason}`);
    this.closed = true;
    this.abort.abort();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) break;
        const size = this.peekInt32();
        if (size < MIN_REQUEST_BYTES && !this.expectingRawSaslToken()) {
          this.destroy(`malformed frame: size ${size} is below the minimum request size`);
          return;
        }
        if (size < 0 || size > this.cluster.options.maxFrameBytes) {
          this.destroy(
            `frame of ${size} bytes exceeds maxFrameBytes (${this.cluster.options.maxFrameBytes})`,
          );
          return;
        }
        this.frameSize = size;
      }
      if (this.buffered < 4 + this.frameSize) break;
      const frame = this.take(4 + this.frameSize).subarray(4);
      this.frameSize = -1;
      this.queue.push(frame);
    }
    if (this.queue.length >= PAUSE_QUEUE_LENGTH && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.processing && this.queue.length > 0) void this.processQueue();
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.chunks, Math.min(this.buffered, 4));
    return head.readInt32BE(0);
  }

  /** Remove and return the next n buffered bytes (one copy at most). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const want = n - filled;
        if (c.length <= want) {
          c.copy(out, filled);
          filled += c.length;
          this.chunks.shift();
        } else {
          c.copy(out, filled, 0, want);
          this.chunks[0] = c.subarray(want);
          filled += want;
        }
      }
    }
    this.buffered -= n;
    return out;
  }

  private expectingRawSaslToken(): boolean {
    return (
      this.cluster.options.sasl !== null &&
      this.sasl.mechanism !== null &&
      this.sasl.handshakeVersion === 0 &&
      !this.sasl.authenticated
    );
  }

  private async processQueue(): Promise<void> {
    this.processing = true;
    try {
      while (!this.closed) {
        const frame = this.queue.shift();
        if (!frame) break;
        if (this.paused && this.queue.length <= RESUME_QUEUE_LENGTH) {
          this.paused = false;
          this.socket.resume();
        }
        await this.handleFrame(frame);
        if (!this.closed && this.socket.writableNeedDrain) await this.drain();
      }
    } catch (err) {
      this.destroy(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      this.processing = false;
    }
  }

  private drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private send(chunks: Buffer[], totalLength: number): void {
    if (this.closed) return;
    chunks[0]!.writeInt32BE(totalLength - 4, 0);
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  private sendBody(correlationId: number, encode: (w: Writer) => void): void {
    const w = new Writer();
    w.int32(0).int32(correlationId);
    encode(w);
    const total = w.length;
    this.send(w.finish(), total);
  }

  private async handleFrame(frame: Buffer): Promise<void> {
    const { cluster } = this;
    if (this.expectingRawSaslToken()) {
      // SaslHandshake v0: the token follows as a bare size-prefixed frame.
      const user = verifyPlain(cluster, frame);
      if (user === null) {
        this.destroy('SASL/PLAIN authentication failed (raw token)');
        return;
      }
      this.sasl.authenticated = true;
      this.sasl.user = user;
      const empty = Buffer.alloc(4);
      this.send([empty], 4);
      return;
    }

    const r = new Reader(frame);
    let apiKey: number;
    let apiVersion: number;
    let correlationId: number;
    try {
      apiKey = r.int16();
      apiVersion = r.int16();
      correlationId = r.int32();
      this.clientId = r.nullableString() ?? '';
    } catch (err) {
      this.destroy(`malformed request header: ${(err as Error).message}`);
      return;
    }
    const name = apiKeyName(apiKey);

    if (cluster.options.sasl && !this.sasl.authenticated && !PRE_AUTH_APIS.has(apiKey)) {
      this.destroy(`${name} request before SASL authentication`);
      return;
    }

    const handler = handlerFor(apiKey);
    if (!handler || apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions) {
        // Normal version negotiation (KIP-511): answer in v0 layout with the supported ranges.
        cluster.log(
          `broker ${this.nodeId}: ApiVersions v${apiVersion} from ${this.remote}; answering with v0 ranges`,
        );
        this.sendBody(correlationId, (w) => encodeApiVersionsFallback(w, supportedApis()));
      } else {
        cluster.log(
          `broker ${this.nodeId}: unsupported ${handler ? `version ${apiVersion} of ${name}` : `api key ${apiKey}`} from ${this.remote}; answering UNSUPPORTED_VERSION`,
        );
        this.sendBody(correlationId, (w) => w.int16(ErrorCode.UNSUPPORTED_VERSION));
      }
      return;
    }

    let req: unknown;
    try {
      req = handler.decode(r, apiVersion);
    } catch (err) {
      if (!(err instanceof ProtocolParseError) && !(err instanceof RangeError)) throw err;
      this.destroy(`malformed ${name} v${apiVersion} request: ${err.message}`);
      return;
    }

    const ctx: RequestContext = {
      cluster,
      nodeId: this.nodeId,
      apiVersion,
      clientId: this.clientId,
      clientHost: this.clientHost,
      signal: this.abort.signal,
      sasl: this.sasl,
    };

    const fault = cluster.faults.take(this.nodeId, apiKey);
    if (fault) cluster.log(`broker ${this.nodeId}: fault ${JSON.stringify(fault.action)} applied to ${name}`);
    if (fault?.action.kind === 'drop' && !fault.action.afterHandling) {
      this.destroy();
      return;
    }
    const res =
      fault?.action.kind === 'error'
        ? handler.errorResponse(ctx, req, fault.action.errorCode)
        : await handler.handle(ctx, req);
    if (this.closed) return;
    if (fault?.action.kind === 'drop') {
      this.destroy();
      return;
    }
    if (fault?.action.kind === 'delay') await sleep(fault.action.ms, this.abort.signal);
    if (res === NO_RESPONSE || handler.expectsResponse?.(req) === false || this.closed) return;
    this.sendBody(correlationId, (w) => handler.encode(w, res, apiVersion));
    if (this.sasl.closeAfterResponse) {
      this.closed = true;
      this.socket.end();
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
