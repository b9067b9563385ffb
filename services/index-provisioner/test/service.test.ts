import { ConfigError, createService } from '@fleet/chassis';
import { describe, expect, it } from 'vitest';
import { indexProvisionerOptions } from '../src/service.js';

describe('configuration', () => {
  const create = (env: Record<string, string>) =>
    createService(indexProvisionerOptions({ configSources: { env, argv: [], files: [] } }));

  it('rejects bad cluster configuration with every problem named', async () => {
    const cases: Array<[string, RegExp]> = [
      ['not json', /JSON|Unexpected token/],
      ['[]', /must be a JSON object/],
      [
        JSON.stringify({ East: { clustered: true, target: { type: 'directory', root: '/x' } } }),
        /name must match/,
      ],
      [JSON.stringify({ e: { clustered: 'yes', target: { type: 'directory', root: '/x' } } }), /clustered/],
      [JSON.stringify({ e: { clustered: true, target: { type: 'ftp' } } }), /target.type/],
      [
        JSON.stringify({ e: { clustered: true, target: { type: 'directory', root: '/x', path: '../up' } } }),
        /relative/,
      ],
      [
        JSON.stringify({ e: { clustered: true, target: { type: 'splunk-rest', url: 'nope' } } }),
        /target.url/,
      ],
      [
        JSON.stringify({ e: { clustered: true, target: { type: 'directory', root: '/x', extra: 1 } } }),
        /unknown key/,
      ],
      [
        JSON.stringify({
          e: { clustered: true, target: { type: 'directory', root: '/x' }, files: ['x.conf'] },
        }),
        /unknown file/,
      ],
    ];
    for (const [clusters, pattern] of cases) {
      const attempt = create({ PROVISIONER_CLUSTERS: clusters });
      await expect(attempt, clusters).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt, clusters).rejects.toThrow(pattern);
    }
    await expect(create({ PROVISIONER_HOME_PATH: '/data/db' })).rejects.toThrow(/\{name\}/);
    await expect(create({ PROVISIONER_AUTH_STRATEGY: 'bad strategy' })).rejects.toThrow(/must match/);
    await expect(create({ DATABASE_SCHEMA: 'Robert"; DROP' })).rejects.toThrow(/must match/);
  });
});
