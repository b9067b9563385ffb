import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  params: Record<string, string>;
  authorization: string | undefined;
}

type Failure = { method?: string; path: RegExp | string; status: number; times: number };

/**
 * A small stand-in for Splunk's management API: the configs/conf-* endpoints (per app namespace),
 * and any `_reload` endpoint. Records every call, checks the bearer token, and can be told to fail.
 */
export class FakeSplunk {
  readonly calls: RecordedCall[] = [];
  /** conf -> stanza -> settings (the namespace is ignored: one app). */
  readonly confs = new Map<string, Map<string, Record<string, string>>>();
  readonly #failures: Failure[] = [];
  #server: Server | undefined;
  url = '';

  constructor(readonly token = 'fake-splunk-token') {}

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** Answer `status` to the next `times` calls matching method and path. */
  failOn(path: RegExp | string, status = 500, options: { method?: string; times?: number } = {}): void {
    this.#failures.push({
      path,
      status,
      times: options.times ?? Number.POSITIVE_INFINITY,
      method: options.method,
    });
  }

  clearFailures(): void {
    this.#failures.length = 0;
  }

  stanzas(conf: string): Map<string, Record<string, string>> {
    return this.confs.get(conf) ?? new Map();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    let body = '';
    for await (const chunk of req) body += chunk;
    const params = Object.fromEntries(new URLSearchParams(body));
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      params,
      authorization: req.headers.authorization,
    };
    this.calls.push(call);
    const send = (status: number, payload: object): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };

    if (req.headers.authorization !== `Bearer ${this.token}`)
      return send(401, { messages: [{ type: 'WARN', text: 'call not properly authenticated' }] });
    const failure = this.#failures.find(
      (f) =>
        f.times > 0 &&
        (!f.method || f.method === call.method) &&
        (typeof f.path === 'string' ? call.path === f.path : f.path.test(call.path)),
    );
    if (failure) {
      failure.times--;
      return send(failure.status, { messages: [{ type: 'ERROR', text: 'injected failure' }] });
    }

    if (call.path.endsWith('/_reload') && call.method === 'POST') return send(200, { entry: [] });

    const match = /^\/servicesNS\/[^/]+\/[^/]+\/configs\/conf-([^/]+)(?:\/(.+))?$/.exec(call.path);
    if (!match) return send(404, { messages: [{ type: 'ERROR', text: `no endpoint ${call.path}` }] });
    const conf = match[1]!;
    const stanza = match[2];
    const stanzas = this.confs.get(conf) ?? new Map<string, Record<string, string>>();
    this.confs.set(conf, stanzas);

    if (stanza === undefined && call.method === 'POST') {
      const { name, ...settings } = params;
      if (!name) return send(400, { messages: [{ type: 'ERROR', text: 'name is required' }] });
      if (stanzas.has(name)) return send(409, { messages: [{ type: 'ERROR', text: 'already exists' }] });
      stanzas.set(name, settings);
      return send(201, { entry: [{ name, content: settings }] });
    }
    if (stanza !== undefined && call.method === 'POST') {
      const existing = stanzas.get(stanza);
      if (!existing)
        return send(404, { messages: [{ type: 'ERROR', text: `Could not find object id=${stanza}` }] });
      Object.assign(existing, params);
      return send(200, { entry: [{ name: stanza, content: existing }] });
    }
    if (stanza !== undefined && call.method === 'DELETE') {
      if (!stanzas.delete(stanza)) return send(404, { messages: [{ type: 'ERROR', text: 'not found' }] });
      return send(200, { entry: [] });
    }
    return send(405, { messages: [{ type: 'ERROR', text: 'method not allowed' }] });
  }
}
