/**
 * Chassis Kafka settings that keep tests quick against a local test broker (`@fleet/testkit`'s
 * `startKafkaBroker`): short connection and request timeouts, few fast client retries, a short
 * group session with frequent heartbeats, short fetch waits, frequent commits, and reading each
 * topic from the beginning. Pass it as (part of) a service's environment.
 */
export function kafkaTestEnv(brokers: readonly string[]): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_CONNECTION_TIMEOUT_MS: '1000',
    KAFKA_REQUEST_TIMEOUT_MS: '5000',
    KAFKA_CLIENT_RETRIES: '2',
    KAFKA_CLIENT_RETRY_INITIAL_MS: '100',
    KAFKA_CLIENT_RETRY_MAX_MS: '500',
    KAFKA_SESSION_TIMEOUT_MS: '3000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '200',
    KAFKA_REBALANCE_TIMEOUT_MS: '3000',
    KAFKA_FETCH_MAX_WAIT_MS: '50',
    KAFKA_COMMIT_INTERVAL_MS: '50',
    KAFKA_FROM_BEGINNING: 'true',
  };
}
