#!/usr/bin/env node
/**
 * fleet-kafka-dev: run the in-memory Kafka test broker from the command line for local
 * development. Prints the bootstrap address on stdout; stops on SIGINT/SIGTERM. Not for production.
 */
import { parseArgs } from 'node:util';
import { startKafkaBroker } from './broker.js';

const USAGE = `Usage: fleet-kafka-dev [options]

In-memory Kafka wire-protocol broker for tests and local development (not for production).
Data lives in memory only and is lost when the process stops.

Options:
  --port <n>        port of the first broker; broker i uses port+i (default 9092, 0 = random)
  --brokers <n>     number of brokers in the cluster (default 1)
  --partitions <n>  partitions of auto-created topics (default 1)
  --host <addr>     interface to listen on (default 127.0.0.1)
  --topic <name[:partitions]>  create a topic at start-up (repeatable)
  --no-auto-create  do not create unknown topics on metadata/produce requests
  --verbose         log broker events to stderr
  -h, --help        show this help
`;

function int(name: string, value: string | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      brokers: { type: 'string' },
      partitions: { type: 'string' },
      host: { type: 'string' },
      topic: { type: 'string', multiple: true },
      'no-auto-create': { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const topics: Record<string, number> = {};
  for (const spec of values.topic ?? []) {
    const [name, parts] = spec.split(':');
    if (!name) throw new Error(`invalid --topic '${spec}'`);
    topics[name] = int('topic', parts, int('partitions', values.partitions, 1, 1), 1);
  }
  const broker = await startKafkaBroker({
    port: int('port', values.port, 9092, 0),
    brokers: int('brokers', values.brokers, 1, 1),
    defaultPartitions: int('partitions', values.partitions, 1, 1),
    host: values.host ?? '127.0.0.1',
    autoCreateTopics: !values['no-auto-create'],
    topics,
    ...(values.verbose ? { log: (line: string) => process.stderr.write(`[fleet-kafka-dev] ${line}\n`) } : {}),
  });
  process.stderr.write(
    `fleet-kafka-dev: in-memory Kafka test broker (${broker.brokers.length} node(s)); Ctrl+C to stop\n`,
  );
  process.stdout.write(`${broker.brokers.join(',')}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`fleet-kafka-dev: ${signal}, stopping\n`);
    broker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet-kafka-dev: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
