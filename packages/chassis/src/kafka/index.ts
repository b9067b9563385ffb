export {
  COMPRESSIONS,
  type Compression,
  type KafkaConfig,
  kafkaSchema,
  SASL_MECHANISMS,
  type SaslMechanism,
} from './config.js';
export { KafkaModule, type KafkaModuleOptions } from './module.js';
export { OffsetTracker } from './offsets.js';
export {
  type BatchConsumeOptions,
  type BatchHandler,
  type ConsumeOptions,
  type ConsumerEvents,
  type ConsumerHandle,
  type ConsumerState,
  type HandlerContext,
  type KafkaMessage,
  type KafkaService,
  KafkaUnavailableError,
  type MessageConsumeOptions,
  type MessageHandler,
  type ProducedOffset,
  type ProduceMessage,
  type ProducerHandle,
  type RetryPolicy,
  type TopicPartition,
} from './types.js';
