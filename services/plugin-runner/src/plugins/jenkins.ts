/**
 * Jenkins: builds of the configured jobs since the last build number delivered per job
 * (`GET /job/<a>/job/<b>/api/json?tree=builds[...]`). Finished builds are delivered in build
 * order; a build still running holds back the later ones of its job, so none is skipped.
 */
import type { JsonSchema } from '../json-schema.js';
import { definePlugin, type PluginEvent } from '../plugin.js';
import { joinUrl } from './util.js';

export interface JenkinsConfig {
  baseUrl: string;
  /** Job names; folders as `folder/job`. */
  jobs: string[];
  user?: string;
  /** API token (with user: basic auth). */
  token?: string;
  /** Builds read per job and run (Jenkins returns the newest first). */
  maxBuilds: number;
}

export interface JenkinsCursor {
  /** Last delivered build number per job. */
  jobs: Record<string, number>;
}

interface Build {
  number?: number;
  result?: string | null;
  building?: boolean;
  timestamp?: number;
  duration?: number;
  url?: string;
  displayName?: string;
}

const CONFIG_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['baseUrl', 'jobs'],
  additionalProperties: false,
  properties: {
    baseUrl: { type: 'string', format: 'uri' },
    jobs: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^/]+(/[^/]+)*$' } },
    user: { type: 'string', minLength: 1 },
    token: { type: 'string', minLength: 1 },
    maxBuilds: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
};

function jobPath(job: string): string {
  return job
    .split('/')
    .map((part) => `job/${encodeURIComponent(part)}`)
    .join('/');
}

function level(result: string | null | undefined): PluginEvent['level'] {
  if (result === 'FAILURE') return 'error';
  if (result === 'UNSTABLE' || result === 'ABORTED') return 'warn';
  return 'info';
}

export const jenkinsPlugin = definePlugin<JenkinsConfig, JenkinsCursor>({
  name: 'jenkins',
  version: '1.0.0',
  description: 'Jenkins builds of the configured jobs',
  configSchema: CONFIG_SCHEMA,
  checkConfig: (config) => (config.token && !config.user ? "'token' needs 'user' (basic auth)" : undefined),
  compareCursors(a, b) {
    let order = 0;
    for (const [job, number] of Object.entries(b.jobs)) {
      const other = a.jobs[job];
      if (other === undefined || other < number) return -1;
      if (other > number) order = 1;
    }
    return order;
  },
  async *poll(ctx) {
    const { config, http, signal } = ctx;
    const headers: Record<string, string> = {};
    if (config.user)
      headers.authorization = `Basic ${Buffer.from(`${config.user}:${config.token ?? ''}`).toString('base64')}`;
    const jobs = { ...(ctx.cursor?.jobs ?? {}) };
    for (const job of config.jobs) {
      signal.throwIfAborted();
      const { data } = await http.json<{ builds?: Build[] }>(
        joinUrl(config.baseUrl, `${jobPath(job)}/api/json`),
        {
          headers,
          query: {
            tree: `builds[number,result,building,timestamp,duration,url,displayName]{0,${config.maxBuilds}}`,
          },
        },
      );
      const last = jobs[job] ?? 0;
      const builds = (data?.builds ?? [])
        .filter((b): b is Build & { number: number } => Number.isInteger(b.number) && b.number! > last)
        .sort((a, b) => a.number - b.number);
      const finished: Array<Build & { number: number }> = [];
      for (const build of builds) {
        if (build.building || build.result === null || build.result === undefined) break;
        finished.push(build);
      }
      if (finished.length === 0) {
        if (!(job in jobs)) {
          jobs[job] = last;
          yield { events: [], cursor: { jobs: { ...jobs } } };
        }
        continue;
      }
      jobs[job] = finished[finished.length - 1]!.number;
      yield {
        events: finished.map((b) => ({
          id: `${job}#${b.number}`,
          timestamp: b.timestamp ?? Date.now(),
          service: 'jenkins',
          level: level(b.result),
          message: `${job} ${b.displayName ?? `#${b.number}`} ${b.result}`,
          fields: {
            job,
            number: b.number,
            result: b.result ?? null,
            duration_ms: b.duration ?? null,
            url: b.url ?? null,
          },
          data: b,
        })),
        cursor: { jobs: { ...jobs } },
      };
    }
  },
});
