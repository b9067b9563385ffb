/** Kafka API keys understood (or at least recognised) by the test broker. */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  SaslAuthenticate: 36,
  DeleteGroups: 42,
} as const;

export type ApiKeyName = keyof typeof ApiKey;

const names = new Map<number, string>(Object.entries(ApiKey).map(([name, key]) => [key, name]));

/** Human readable name of an API key, for log lines. */
export function apiKeyName(key: number): string {
  return names.get(key) ?? `ApiKey(${key})`;
}
