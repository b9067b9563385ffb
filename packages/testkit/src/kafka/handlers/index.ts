/** Registry of the API handlers served by the test broker. */
import { type ApiVersionRange, createApiVersionsHandler } from './api-versions.js';
import { fetchHandler } from './fetch.js';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  syncGroupHandler,
} from './groups.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { offsetCommitHandler, offsetFetchHandler } from './offsets.js';
import { produceHandler } from './produce.js';
import { saslAuthenticateHandler, saslHandshakeHandler } from './sasl.js';
import { createTopicsHandler, deleteTopicsHandler } from './topics.js';
import type { AnyApiHandler } from './types.js';

export type { ApiVersionRange } from './api-versions.js';
export { encodeApiVersionsFallback } from './api-versions.js';

const handlers = new Map<number, AnyApiHandler>();

const apiVersionsHandler = createApiVersionsHandler(supportedApis);

for (const h of [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  syncGroupHandler,
  describeGroupsHandler,
  listGroupsHandler,
  saslHandshakeHandler,
  apiVersionsHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  initProducerIdHandler,
  saslAuthenticateHandler,
  deleteGroupsHandler,
]) {
  handlers.set(h.apiKey, h);
}

export function handlerFor(apiKey: number): AnyApiHandler | undefined {
  return handlers.get(apiKey);
}

/** The API keys and version ranges advertised by ApiVersions. */
export function supportedApis(): ApiVersionRange[] {
  return [...handlers.values()]
    .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}
