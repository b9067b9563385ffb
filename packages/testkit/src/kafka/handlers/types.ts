/** Shape of an API handler: decode a request, handle it, encode the response (per version). */
import type { Cluster } from '../cluster.js';
import type { Reader, Writer } from '../codec.js';

/** Returned by `handle` when the request gets no response at all (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no-response');
export type NoResponse = typeof NO_RESPONSE;

export interface RequestContext {
  readonly cluster: Cluster;
  /** Node id of the broker that received the request. */
  readonly nodeId: number;
  readonly apiVersion: number;
  readonly clientId: string;
  /** Client address as Kafka shows it, e.g. "/127.0.0.1". */
  readonly clientHost: string;
  /** Aborted when the connection closes or the broker stops. */
  readonly signal: AbortSignal;
  /** Per-connection SASL state, used by the SASL handlers. */
  readonly sasl: SaslConnectionState;
}

export interface SaslConnectionState {
  /** Mechanism chosen by SaslHandshake (null before it). */
  mechanism: string | null;
  handshakeVersion: number;
  authenticated: boolean;
  /** Authenticated user name. */
  user: string | null;
  /** Set by SaslAuthenticate on failure: the connection is closed after the response is sent. */
  closeAfterResponse: boolean;
}

export interface ApiHandler<Req, Res> {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  decode(r: Reader, version: number): Req;
  /** False when the client expects no response (Produce with acks=0). Default: true. */
  expectsResponse?(req: Req): boolean;
  handle(ctx: RequestContext, req: Req): Res | NoResponse | Promise<Res | NoResponse>;
  /** A response carrying `errorCode` wherever this API reports errors (fault injection). */
  errorResponse(ctx: RequestContext, req: Req, errorCode: number): Res;
  encode(w: Writer, res: Res, version: number): void;
}

// biome-ignore lint/suspicious/noExplicitAny: heterogeneous handler registry
export type AnyApiHandler = ApiHandler<any, any>;

export function defineHandler<Req, Res>(h: ApiHandler<Req, Res>): AnyApiHandler {
  return h;
}
