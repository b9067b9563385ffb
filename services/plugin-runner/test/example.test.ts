// The README's worked example, run for real: the Statuspage plugin in a runner against a fake API.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { statuspagePlugin } from '../examples/statuspage.js';
import {
  cheapBackend,
  json,
  MemorySink,
  openTestDb,
  startFakeServer,
  startRunner,
  waitFor,
} from './helpers.js';

describe('README example: a Statuspage plugin', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('is the code the README shows, in under 50 lines', () => {
    const code = readFileSync(new URL('../examples/statuspage.ts', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(code);
    expect(code.trimEnd().split('\n').length).toBeLessThan(50);
  });

  it('delivers every incident update once and resumes after its cursor', async () => {
    const incidents = [
      {
        id: 'inc1',
        name: 'API errors',
        status: 'investigating',
        impact: 'major',
        updated_at: '2026-11-01T10:00:00.000Z',
      },
      {
        id: 'inc2',
        name: 'Slow builds',
        status: 'resolved',
        impact: 'minor',
        updated_at: '2026-11-01T09:00:00.000Z',
      },
    ];
    const api = await startFakeServer((req, res) =>
      req.url.pathname === '/api/v2/incidents.json' ? json(res, 200, { incidents }) : json(res, 404, {}),
    );
    cleanup.push(() => api.close());
    const db = await openTestDb(cheapBackend());
    cleanup.push(() => db.close());
    const sink = new MemorySink();
    const runner = await startRunner({
      db,
      sink,
      extraPlugins: [statuspagePlugin],
      env: {
        PLUGIN_INSTANCES: JSON.stringify([
          { id: 'status', plugin: 'statuspage', schedule: '50ms', config: { baseUrl: api.url } },
        ]),
      },
    });
    cleanup.push(() => runner.stop());
    await waitFor('two updates', () => sink.messages.length === 2);
    expect(sink.ids()).toEqual([
      'status:inc2@2026-11-01T09:00:00.000Z',
      'status:inc1@2026-11-01T10:00:00.000Z',
    ]);
    expect(sink.messages[1]!.value).toMatchObject({
      level: 'error',
      message: 'API errors: investigating',
      fields: { impact: 'major' },
    });
    // The incident is resolved: one more event, the old ones are not sent again
    incidents[0] = { ...incidents[0]!, status: 'resolved', updated_at: '2026-11-01T11:00:00.000Z' };
    await waitFor('the update', () => sink.messages.length === 3);
    const polls = api.requests.length;
    await waitFor('more polls', () => api.requests.length > polls + 3);
    expect(sink.ids()).toHaveLength(3);
    expect(sink.ids()[2]).toBe('status:inc1@2026-11-01T11:00:00.000Z');
  });
});
