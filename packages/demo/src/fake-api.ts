import { createServer, type Server } from 'node:http';

/** A small third-party JSON API for plugin-runner's `http-json` plugin, where items keep arriving. */
export interface FakeApi {
  url: string;
  /** Items published so far. */
  count(): number;
  close(): Promise<void>;
}

const LEVELS = ['info', 'info', 'info', 'warn', 'error'] as const;
const WHAT = ['status page updated', 'incident opened', 'deploy finished', 'maintenance scheduled'] as const;

/**
 * `GET /items?after=<id>&limit=<n>` answers `{ items: [{ id, timestamp, level, message, user }] }`,
 * the items with an id above `after`, oldest first. `initial` items exist at start and one more
 * appears every `everyMs`, computed from the clock (no timer to stop).
 */
export async function startFakeApi(options: {
  port: number;
  host: string;
  initial?: number;
  everyMs?: number;
}): Promise<FakeApi> {
  const initial = options.initial ?? 5;
  const everyMs = options.everyMs ?? 1000;
  // Ids follow the clock (one per `everyMs` since the epoch), so they keep growing across runs and
  // a cursor kept by plugin-runner from an earlier run still finds new items.
  const latest = () => Math.floor(Date.now() / everyMs);
  const first = latest() - initial + 1;
  const count = () => latest() - first + 1;
  const item = (id: number) => ({
    id,
    timestamp: new Date(id * everyMs).toISOString(),
    level: LEVELS[id % LEVELS.length],
    message: `${WHAT[id % WHAT.length]} (#${id})`,
    user: `user-${id % 7}`,
  });
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET' || url.pathname !== '/items')
      return send(404, { error: 'not_found', message: 'GET /items?after=<id>&limit=<n>' });
    const after = Number(url.searchParams.get('after') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 20);
    if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100)
      return send(400, { error: 'bad_request', message: 'after: an integer >= 0, limit: 1..100' });
    const items = [];
    const from = Math.max(after + 1, first);
    for (let id = from; id <= Math.min(latest(), from + limit - 1); id++) items.push(item(id));
    send(200, { items });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    url: `http://${options.host}:${options.port}`,
    count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
