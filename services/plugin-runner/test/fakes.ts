// Fake upstream APIs (node:http on 127.0.0.1:0) that behave like the real ones where the plugins care.
import type { ServerResponse } from 'node:http';
import { type FakeRequest, type FakeServer, json, startFakeServer } from './helpers.js';

export interface FakeGithub extends FakeServer {
  audit: Array<{ '@timestamp': number; _document_id: string; action: string; actor: string; org: string }>;
  events: Array<{
    id: string;
    type: string;
    created_at: string;
    actor: { login: string };
    repo: { name: string };
  }>;
  /** Requests per rate-limit window; 0 answers after it are 403 with X-RateLimit-Remaining: 0. */
  rateLimit: { limit: number; windowMs: number; used: number; resetAt: number };
  /** Answer the next n requests with this status. */
  failNext(n: number, status?: number): void;
  addAudit(n: number, at?: number): void;
  addEvents(n: number): void;
}

export async function startFakeGithub(
  options: { rateLimit?: number; windowMs?: number } = {},
): Promise<FakeGithub> {
  let failures = 0;
  let failStatus = 502;
  let docSeq = 0;
  let eventSeq = 1000;
  const rateLimit = {
    limit: options.rateLimit ?? 5000,
    windowMs: options.windowMs ?? 60_000,
    used: 0,
    resetAt: 0,
  };
  const audit: FakeGithub['audit'] = [];
  const events: FakeGithub['events'] = [];

  const handler = (req: FakeRequest, res: ServerResponse) => {
    const now = Date.now();
    if (now >= rateLimit.resetAt) {
      rateLimit.used = 0;
      rateLimit.resetAt = Math.ceil((now + rateLimit.windowMs) / 1000) * 1000;
    }
    const rl = () => ({
      'x-ratelimit-limit': String(rateLimit.limit),
      'x-ratelimit-remaining': String(Math.max(0, rateLimit.limit - rateLimit.used)),
      'x-ratelimit-reset': String(rateLimit.resetAt / 1000),
    });
    if (rateLimit.used >= rateLimit.limit)
      return json(res, 403, { message: 'API rate limit exceeded' }, rl());
    rateLimit.used++;
    if (failures > 0) {
      failures--;
      return json(res, failStatus, { message: 'upstream trouble' }, rl());
    }
    if (req.headers.authorization !== 'Bearer gh-token')
      return json(res, 401, { message: 'Bad credentials' });
    const perPage = Number(req.url.searchParams.get('per_page') ?? 30);
    const audit_ = /^\/orgs\/([^/]+)\/audit-log$/.exec(req.url.pathname);
    if (audit_) {
      const phrase = req.url.searchParams.get('phrase') ?? '';
      const since = /created:>=(\S+)/.exec(phrase);
      const from = since ? Date.parse(since[1]!) : 0;
      const matching = audit
        .filter((e) => e['@timestamp'] >= from)
        .sort((a, b) => a['@timestamp'] - b['@timestamp']);
      const after = Number(req.url.searchParams.get('after') ?? 0);
      const page = matching.slice(after, after + perPage);
      const headers: Record<string, string> = rl();
      if (after + perPage < matching.length) {
        const next = new URL(req.url.toString());
        next.host = req.headers.host!;
        next.searchParams.set('after', String(after + perPage));
        headers.link = `<${next.toString()}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }
    const repo = /^\/repos\/([^/]+\/[^/]+)\/events$/.exec(req.url.pathname);
    if (repo) {
      const newestFirst = [...events].sort((a, b) => Number(b.id) - Number(a.id));
      const page = Number(req.url.searchParams.get('page') ?? 1);
      const slice = newestFirst.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = rl();
      if (page * perPage < newestFirst.length) {
        const next = new URL(req.url.toString());
        next.host = req.headers.host!;
        next.searchParams.set('page', String(page + 1));
        headers.link = `<${next.toString()}>; rel="next", <${next.toString()}>; rel="last"`;
      }
      return json(res, 200, slice, headers);
    }
    json(res, 404, { message: 'Not Found' });
  };
  const server = await startFakeServer(handler);
  return Object.assign(server, {
    audit,
    events,
    rateLimit,
    failNext(n: number, status = 502) {
      failures = n;
      failStatus = status;
    },
    addAudit(n: number, at = Date.now()) {
      // Several entries per millisecond on purpose: the cursor must tell them apart
      for (let i = 0; i < n; i++)
        audit.push({
          '@timestamp': at + Math.floor(i / 3),
          _document_id: `doc-${++docSeq}`,
          action: 'repo.create',
          actor: 'octocat',
          org: 'acme',
        });
    },
    addEvents(n: number) {
      for (let i = 0; i < n; i++)
        events.push({
          id: String(++eventSeq),
          type: 'PushEvent',
          created_at: new Date().toISOString(),
          actor: { login: 'octocat' },
          repo: { name: 'acme/app' },
        });
    },
  });
}
