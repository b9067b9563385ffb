// The built-in plugins against fake upstream APIs: pagination, cursors, rate limits.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../src/errors.js';
import { createHttpClient, type HttpPolicy, type RateLimitState } from '../src/http.js';
import { type Page, type Plugin, preparePage } from '../src/plugin.js';
import { githubPlugin, httpJsonPlugin, jenkinsPlugin, slackPlugin } from '../src/plugins/index.js';
import { type FakeGithub, startFakeGithub } from './fakes.js';
import { type FakeRequest, type FakeServer, json, startFakeServer } from './helpers.js';

const policy: HttpPolicy = {
  timeoutMs: 2000,
  attempts: 3,
  baseMs: 10,
  maxMs: 50,
  maxRateLimitWaitMs: 2500,
  userAgent: 'test',
};
const noopLog = {
  child: () => noopLog,
  info() {},
  warn() {},
  debug() {},
  error() {},
  trace() {},
  fatal() {},
} as never;

/** Run a plugin's poll to the end, as the runner would (pages checked, cursors in order). */
async function runPlugin<C, K>(plugin: Plugin<C, K>, raw: unknown, cursor?: K, rate: RateLimitState = {}) {
  const config = plugin.validateConfig(raw);
  const controller = new AbortController();
  const pages: Array<Page<K>> = [];
  let current: unknown = cursor ?? null;
  const http = createHttpClient(policy, controller.signal, rate);
  for await (const page of plugin.poll({
    cursor,
    config,
    http,
    log: noopLog,
    signal: controller.signal,
    instance: { id: 'i', plugin: plugin.name },
  })) {
    preparePage(page, {
      instance: 'i',
      plugin: plugin.name,
      maxEvents: 100_000,
      current,
      compare: plugin.compareCursors as never,
    });
    current = page.cursor;
    pages.push(page);
  }
  const ids = pages.flatMap((p) => p.events.map((e) => e.id));
  return { pages, ids, cursor: (pages.length ? pages[pages.length - 1]!.cursor : cursor) as K };
}

let server: FakeServer | FakeGithub | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('github plugin', () => {
  it('audit log: Link pagination oldest first, then resumes after the cursor without duplicates', async () => {
    const gh = await startFakeGithub();
    server = gh;
    const start = Date.now() - 60_000;
    gh.addAudit(25, start);
    const config = { baseUrl: gh.url, token: 'gh-token', org: 'acme', perPage: 10, lookbackMs: 120_000 };
    const first = await runPlugin(githubPlugin, config);
    expect(first.pages.map((p) => p.events.length)).toEqual([10, 10, 5]);
    expect(first.ids).toEqual(gh.audit.map((e) => e._document_id));
    expect(gh.requests[0]!.url.searchParams.get('order')).toBe('asc');
    expect(gh.requests[1]!.url.searchParams.get('after')).toBe('10');
    // Same millisecond as the last delivered entries plus new ones: only the new ones come
    gh.addAudit(4, gh.audit[gh.audit.length - 1]!['@timestamp']);
    const second = await runPlugin(githubPlugin, config, first.cursor);
    expect(second.ids).toEqual(gh.audit.slice(25).map((e) => e._document_id));
    const third = await runPlugin(githubPlugin, config, second.cursor);
    expect(third.ids).toEqual([]);
    expect(githubPlugin.compareCursors!(second.cursor, first.cursor)).toBeGreaterThanOrEqual(0);
  });

  it('repository events: newest-first pages delivered oldest first; the cursor only moves forward', async () => {
    const gh = await startFakeGithub();
    server = gh;
    gh.addEvents(23);
    const config = { baseUrl: gh.url, token: 'gh-token', repo: 'acme/app', perPage: 10 };
    const first = await runPlugin(githubPlugin, config);
    expect(first.ids).toEqual(gh.events.map((e) => e.id));
    expect(first.pages.map((p) => p.cursor)).toEqual([
      { lastId: '1010' },
      { lastId: '1020' },
      { lastId: '1023' },
    ]);
    gh.addEvents(3);
    const before = gh.requests.length;
    const second = await runPlugin(githubPlugin, config, first.cursor);
    expect(second.ids).toEqual(['1024', '1025', '1026']);
    // It stopped at the first known event: one page read
    expect(gh.requests.length - before).toBe(1);
  });

  it('waits for X-RateLimit-Reset when the budget runs out, and retries 5xx', async () => {
    const gh = await startFakeGithub({ rateLimit: 2, windowMs: 1000 });
    server = gh;
    gh.addAudit(30, Date.now() - 10_000);
    gh.failNext(1, 502);
    const started = Date.now();
    const { ids } = await runPlugin(githubPlugin, {
      baseUrl: gh.url,
      token: 'gh-token',
      org: 'acme',
      perPage: 10,
    });
    expect(ids).toHaveLength(30);
    // 1 failed + 3 pages with 2 requests per second: at least one reset waited for, never a 403
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(gh.requests).toHaveLength(4);
  });

  it('stops the run with RateLimitedError when the reset is too far away', async () => {
    const gh = await startFakeGithub({ rateLimit: 1, windowMs: 3_600_000 });
    server = gh;
    gh.addAudit(15, Date.now() - 10_000);
    const rate: RateLimitState = {};
    const err = await runPlugin(
      githubPlugin,
      { baseUrl: gh.url, token: 'gh-token', org: 'acme', perPage: 10 },
      undefined,
      rate,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(gh.requests).toHaveLength(1);
    expect(rate.remaining).toBe(0);
  });
});

interface SlackEntry {
  id: string;
  date_create: number;
  action: string;
  actor: { type: string; user: { id: string; name: string } };
}

async function startFakeSlack(entries: SlackEntry[], options: { throttleEvery?: number } = {}) {
  let calls = 0;
  return startFakeServer((req: FakeRequest, res: ServerResponse) => {
    calls++;
    if (options.throttleEvery && calls % options.throttleEvery === 0)
      return json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    if (req.headers.authorization !== 'Bearer xoxp-1')
      return json(res, 200, { ok: false, error: 'invalid_auth' });
    const oldest = Number(req.url.searchParams.get('oldest') ?? 0);
    const latest = req.url.searchParams.has('latest')
      ? Number(req.url.searchParams.get('latest'))
      : Number.POSITIVE_INFINITY;
    const limit = Number(req.url.searchParams.get('limit') ?? 100);
    const offset = Number(req.url.searchParams.get('cursor') ?? 0);
    const matching = entries
      .filter((e) => e.date_create >= oldest && e.date_create <= latest)
      .sort((a, b) => b.date_create - a.date_create || (a.id < b.id ? 1 : -1));
    const page = matching.slice(offset, offset + limit);
    const next = offset + limit < matching.length ? String(offset + limit) : '';
    json(res, 200, { ok: true, entries: page, response_metadata: { next_cursor: next } });
  });
}

function slackEntries(n: number, from: number, perSecond = 3): SlackEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e-${from}-${i}`,
    date_create: from + Math.floor(i / perSecond),
    action: 'user_login',
    actor: { type: 'user', user: { id: `U${i}`, name: `user${i}` } },
  }));
}

function sameOrder(entries: SlackEntry[]): string[] {
  return [...entries]
    .sort((a, b) => a.date_create - b.date_create || (a.id < b.id ? -1 : 1))
    .map((e) => e.id);
}

describe('slack plugin', () => {
  it('cursor pagination, delivered oldest first, resumes without duplicates', async () => {
    const now = Math.floor(Date.now() / 1000);
    const entries = slackEntries(17, now - 100);
    server = await startFakeSlack(entries);
    const config = { baseUrl: server.url, token: 'xoxp-1', limit: 5, pageSize: 4, lookbackMs: 3_600_000 };
    const first = await runPlugin(slackPlugin, config);
    // Oldest first (ties within a second in id order), each once
    expect(first.ids).toEqual(sameOrder(entries));
    expect(first.pages.map((p) => p.events.length)).toEqual([4, 4, 4, 4, 1]);
    expect(server.requests.map((r) => r.url.searchParams.get('cursor'))).toEqual([null, '5', '10', '15']);
    entries.push(...slackEntries(3, entries[16]!.date_create).map((e) => ({ ...e, id: `late-${e.id}` })));
    const second = await runPlugin(slackPlugin, config, first.cursor);
    expect(second.ids).toEqual(sameOrder(entries.slice(17)));
  });

  it('honours 429 Retry-After', async () => {
    const now = Math.floor(Date.now() / 1000);
    const entries = slackEntries(12, now - 50);
    server = await startFakeSlack(entries, { throttleEvery: 2 });
    const started = Date.now();
    const { ids } = await runPlugin(slackPlugin, { baseUrl: server.url, token: 'xoxp-1', limit: 5 });
    expect(ids).toEqual(sameOrder(entries));
    expect(server.requests.filter((_, i) => (i + 1) % 2 === 0).length).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('halves a window holding more entries than allowed, and still delivers everything once', async () => {
    const now = Math.floor(Date.now() / 1000);
    const entries = slackEntries(40, now - 400, 1);
    server = await startFakeSlack(entries);
    const { ids, pages } = await runPlugin(slackPlugin, {
      baseUrl: server.url,
      token: 'xoxp-1',
      limit: 100,
      maxEntriesPerWindow: 15,
      pageSize: 100,
    });
    expect(ids).toEqual(sameOrder(entries));
    expect(pages.every((p) => p.events.length <= 15)).toBe(true);
  });

  it('reports ok=false answers', async () => {
    server = await startFakeSlack([]);
    await expect(runPlugin(slackPlugin, { baseUrl: server.url, token: 'wrong' })).rejects.toThrow(
      /invalid_auth/,
    );
  });
});

describe('jenkins plugin', () => {
  it('builds of each job since the last delivered number; a running build holds back later ones', async () => {
    const builds: Record<
      string,
      Array<{
        number: number;
        result: string | null;
        building: boolean;
        timestamp: number;
        duration: number;
        url: string;
      }>
    > = {
      deploy: [],
      'folder/test': [],
    };
    const add = (job: string, result: string | null, building = false) => {
      const list = builds[job]!;
      list.unshift({
        number: list.length + 1,
        result,
        building,
        timestamp: Date.now() - 1000,
        duration: 10,
        url: `http://j/${job}/${list.length + 1}`,
      });
    };
    add('deploy', 'SUCCESS');
    add('deploy', 'FAILURE');
    add('folder/test', 'SUCCESS');
    add('folder/test', null, true);
    add('folder/test', 'UNSTABLE');
    server = await startFakeServer((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('bot:tok').toString('base64')}`)
        return json(res, 401, {});
      const job = /^\/job\/([^/]+)(?:\/job\/([^/]+))?\/api\/json$/.exec(req.url.pathname);
      if (!job) return json(res, 404, {});
      const name = job[2] ? `${job[1]}/${job[2]}` : job[1]!;
      json(res, 200, { builds: builds[name] ?? [] });
    });
    const config = { baseUrl: server.url, jobs: ['deploy', 'folder/test'], user: 'bot', token: 'tok' };
    const first = await runPlugin(jenkinsPlugin, config);
    expect(first.ids).toEqual(['deploy#1', 'deploy#2', 'folder/test#1']);
    expect(first.cursor).toEqual({ jobs: { deploy: 2, 'folder/test': 1 } });
    expect(first.pages[0]!.events.map((e) => e.level)).toEqual(['info', 'error']);
    expect(server.requests[0]!.url.searchParams.get('tree')).toMatch(/^builds\[number,result,building/);
    // Build 2 of folder/test finishes; deploy gets a new one
    builds['folder/test']![1]!.building = false;
    builds['folder/test']![1]!.result = 'SUCCESS';
    add('deploy', 'ABORTED');
    const second = await runPlugin(jenkinsPlugin, config, first.cursor);
    expect(second.ids).toEqual(['deploy#3', 'folder/test#2', 'folder/test#3']);
    expect(jenkinsPlugin.compareCursors!(first.cursor, second.cursor)).toBeLessThan(0);
    expect((await runPlugin(jenkinsPlugin, config, second.cursor)).ids).toEqual([]);
    expect(() => jenkinsPlugin.validateConfig({ baseUrl: server!.url, jobs: [] })).toThrow(/at least 1/);
  });
});

describe('http-json plugin', () => {
  it('page tokens from the answer (cursorPath) until the cursor stops changing', async () => {
    const items = Array.from({ length: 11 }, (_, i) => ({
      uid: `u${i}`,
      at: new Date(1_700_000_000_000 + i).toISOString(),
      text: `t${i}`,
      sev: i === 3 ? 'ERROR' : 'info',
      meta: { team: 'a' },
    }));
    server = await startFakeServer((req, res) => {
      const from = Number(req.url.searchParams.get('after') ?? 0);
      const page = items.slice(from, from + 4);
      json(res, 200, { result: { records: page }, paging: { next: String(from + page.length) } });
    });
    const config = {
      url: `${server.url}/feed`,
      itemsPath: '$.result.records',
      cursorPath: '$.paging.next',
      cursorParam: 'after',
      idPath: 'uid',
      timestampPath: 'at',
      messagePath: 'text',
      levelPath: 'sev',
      fieldPaths: { team: 'meta.team' },
    };
    const first = await runPlugin(httpJsonPlugin, config);
    expect(first.ids).toEqual(items.map((i) => i.uid));
    expect(first.cursor).toBe('11');
    expect(first.pages[0]!.events[3]).toMatchObject({ level: 'error', message: 't3', fields: { team: 'a' } });
    items.push({ uid: 'u11', at: new Date().toISOString(), text: 'new', sev: 'info', meta: { team: 'b' } });
    expect((await runPlugin(httpJsonPlugin, config, first.cursor)).ids).toEqual(['u11']);
  });

  it('a high-water mark from the last item (cursorItemPath)', async () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, ts: 1_700_000_000_000 + i }));
    server = await startFakeServer((req, res) => {
      const since = Number(req.url.searchParams.get('since_id') ?? 0);
      json(res, 200, items.filter((i) => i.id > since).slice(0, 3));
    });
    const config = {
      url: `${server.url}/items`,
      cursorItemPath: 'id',
      cursorParam: 'since_id',
      timestampPath: 'ts',
    };
    const { ids, cursor } = await runPlugin(httpJsonPlugin, config);
    expect(ids).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(cursor).toBe(7);
  });

  it('config problems are reported with their paths', () => {
    expect(() => httpJsonPlugin.validateConfig({ url: 'http://x.example' })).toThrow(
      /exactly one of 'cursorPath'/,
    );
    expect(() => httpJsonPlugin.validateConfig({ url: 'http://x.example', cursorPath: '$..bad' })).toThrow(
      /\/cursorPath/,
    );
  });
});
