import { afterAll, beforeAll, describe } from 'vitest';
import { backends, startTestService, type TestService } from './helpers.js';
import { DEPLOY_CLUSTERS, directoryDeploySuite } from './suites/deploy-directory.js';
import { indexSuite } from './suites/indexes.js';
import { roleSuite } from './suites/roles.js';
import { securitySuite } from './suites/security.js';
import { serviceSuite } from './suites/service.js';

/**
 * The API suites, on each storage backend. They share one service per backend (a PGlite instance
 * costs seconds of CPU), so each suite uses its own names, teams and clusters.
 */
describe.each(backends())('API on %s', (backend) => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({
      backend,
      clusters: {
        east: { clustered: true, target: { type: 'directory', root: '{dir}/east' } },
        west: { clustered: false, target: { type: 'directory', root: '{dir}/west' } },
        ...DEPLOY_CLUSTERS,
      },
      env: { SPLUNK_TOKEN: 'very-secret-splunk-token' },
    });
  });
  afterAll(() => t?.close());

  const service = () => t;
  indexSuite(service);
  roleSuite(service);
  securitySuite(service);
  directoryDeploySuite(service);
  serviceSuite(service);
});
