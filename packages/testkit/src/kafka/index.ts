// Public surface of the Kafka test broker. Generic names carry a Kafka prefix so this module can
// share the package index with other test tools.
export {
  ApiKey as KafkaApiKey,
  type ApiKeyName as KafkaApiKeyName,
  apiKeyName as kafkaApiKeyName,
} from './api-keys.js';
export {
  type BrokerNodeInfo as KafkaBrokerNodeInfo,
  type CreateTopicOptions as KafkaCreateTopicOptions,
  type KafkaBroker,
  type KafkaRecord,
  type PartitionOffsets as KafkaPartitionOffsets,
  startKafkaBroker,
} from './broker.js';
export { crc32c } from './crc32c.js';
export {
  ErrorCode as KafkaErrorCode,
  type ErrorCodeName as KafkaErrorCodeName,
  errorCodeName as kafkaErrorCodeName,
} from './error-codes.js';
export {
  type FaultAction as KafkaFaultAction,
  FaultInjector as KafkaFaultInjector,
  type FaultMatchOptions as KafkaFaultMatchOptions,
  FaultRule as KafkaFaultRule,
} from './faults.js';
export type {
  GroupDescription as KafkaGroupDescription,
  GroupMemberDescription as KafkaGroupMemberDescription,
  GroupState as KafkaGroupState,
} from './group-coordinator.js';
export type { KafkaBrokerOptions, KafkaBrokerSaslOptions } from './options.js';
export {
  type DecodedRecord as KafkaDecodedRecord,
  decodeBatchRecords as decodeKafkaRecordBatch,
  type EncodeBatchOptions as KafkaEncodeBatchOptions,
  encodeRecordBatch as encodeKafkaRecordBatch,
  type RecordHeader as KafkaRecordHeader,
  type RecordInput as KafkaRecordInput,
} from './record-batch.js';
