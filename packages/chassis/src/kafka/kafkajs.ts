/**
 * kafkajs, loaded on first use: a service without `kafka.brokers` never pays for it (30–70 ms of
 * CPU and 140 modules at start-up). kafkajs is CommonJS only, so a synchronous require returns the
 * very instance an `import 'kafkajs'` elsewhere in the process gets.
 */
import { createRequire } from 'node:module';

type KafkaJs = typeof import('kafkajs');

let loaded: KafkaJs | undefined;

export function kafkajs(): KafkaJs {
  loaded ??= createRequire(import.meta.url)('kafkajs') as KafkaJs;
  return loaded;
}
