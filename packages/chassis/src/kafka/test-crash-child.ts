// A consumer process for the crash test (run with `node --import tsx`). Writes one JSON line per
// handler start and finish on stdout, synchronously, before the handler returns: whatever the
// group has committed must therefore already be on stdout as "done".
import { writeSync } from 'node:fs';
import { createService } from '../service.js';

const emit = (line: Record<string, unknown>) => writeSync(1, `${JSON.stringify(line)}\n`);

const service = await createService({
  name: 'crash-child',
  version: '1.0.0',
  configSources: { env: process.env, argv: [] },
});
const consumer = service.kafka.consume({
  topics: process.env.TOPIC!,
  groupId: process.env.GROUP!,
  concurrency: 4,
  maxInFlight: 8,
  handler: async (m) => {
    emit({ e: 'start', p: m.partition, o: m.offset });
    // STRAGGLER=p:o: that message takes a minute, while later ones of its partition finish
    const slow = process.env.STRAGGLER === `${m.partition}:${m.offset}`;
    await new Promise((r) => setTimeout(r, slow ? 60_000 : 5 + Math.random() * 20));
    emit({ e: 'done', p: m.partition, o: m.offset });
  },
});
consumer.on('assigned', (partitions) => emit({ e: 'assigned', partitions }));
process.on('SIGTERM', () => {
  void service.stop().then(() => {
    emit({ e: 'stopped' });
    process.exit(0);
  });
});
