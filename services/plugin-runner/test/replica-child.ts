// One plugin-runner replica in its own process, for the crash tests (run with `node --import tsx`).
// Configured through the environment like production; reads its items from the test's fake
// upstream (UPSTREAM_URL) and writes one JSON line per finished run on stdout.
import { writeSync } from 'node:fs';
import { createService } from '@fleet/chassis';
import { definePlugin } from '../src/plugin.js';
import { pluginRunnerOf, pluginRunnerService } from '../src/service.js';

const emit = (line: Record<string, unknown>) => writeSync(1, `${JSON.stringify(line)}\n`);
const replica = process.env.PLUGIN_RUNNER_REPLICA_ID ?? 'child';

/** Items of the fake upstream after the cursor, one page per request. */
const upstreamPlugin = definePlugin<{ url: string }, number>({
  name: 'upstream',
  version: '1.0.0',
  configSchema: { type: 'object', required: ['url'], properties: { url: { type: 'string', format: 'uri' } } },
  compareCursors: (a, b) => a - b,
  async *poll({ cursor, config, http }) {
    let after = cursor ?? 0;
    for (;;) {
      const { data } = await http.json<{ items: Array<{ id: string; at: number }>; next: number | null }>(
        config.url,
        {
          query: { after },
          headers: { 'x-replica': replica },
        },
      );
      if (data.items.length === 0 || data.next === null) return;
      yield {
        events: data.items.map((i) => ({ id: i.id, timestamp: i.at, message: `item ${i.id}` })),
        cursor: data.next,
      };
      after = data.next;
    }
  },
});

const service = await createService({
  ...pluginRunnerService({ plugins: [upstreamPlugin] }),
  configSources: { env: process.env, argv: [] },
});
await service.app.ready();
pluginRunnerOf(service).runner.onRun((info) => emit({ e: 'run', ...info }));
emit({ e: 'ready', replica });
process.on('SIGTERM', () => {
  void service.stop().then(() => {
    emit({ e: 'stopped', replica });
    process.exit(0);
  });
});
