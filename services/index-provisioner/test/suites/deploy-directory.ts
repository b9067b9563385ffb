import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConf } from '../../src/conf/parser.js';
import { deploy, eventually, indexBody, type TestService } from '../helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// A post-write command (argv, run without a shell by the service): fails once when the flag file
// exists, and logs each run with the variables the service passes
const COMMAND_SCRIPT =
  'if [ -e "$1" ]; then rm "$1"; echo "bundle validation failed" >&2; exit 3; fi; ' +
  'echo "$FLEET_CLUSTER $FLEET_APP_DIR" >> "$1.log"';

/** The clusters this suite deploys to (added to the shared service's configuration). */
export const DEPLOY_CLUSTERS = {
  dep_east: { clustered: true, target: { type: 'directory', root: '{dir}/dep_east' } },
  dep_west: {
    clustered: false,
    target: { type: 'directory', root: '{dir}/dep_west' },
    files: ['indexes.conf'],
  },
  cmd: {
    clustered: true,
    target: {
      type: 'directory',
      root: '{dir}/cmd',
      path: 'manager-apps/_cluster/local',
      command: ['/bin/sh', '-c', COMMAND_SCRIPT, 'deploy-command', '{dir}/fail-once'],
    },
  },
  slow: {
    clustered: false,
    target: {
      type: 'directory',
      root: '{dir}/slow',
      command: ['sleep', '0.4'],
    },
  },
};

export function directoryDeploySuite(service: () => TestService): void {
  describe('deployments to a directory target', () => {
    let t: TestService;
    let token: string;

    beforeAll(async () => {
      t = service();
      token = await t.token({ subject: 'deployer', team: 'payments' });
      for (const [name, cluster] of [
        ['dep_a', 'dep_east'],
        ['dep_b', 'dep_east'],
        ['dep_w', 'dep_west'],
        ['cmd_a', 'cmd'],
      ])
        expect(
          (await t.request('POST', '/v1/indexes', { token, body: indexBody(name!, { cluster }) })).status,
        ).toBe(201);
      await t.request('PUT', '/v1/roles/dep_ro', {
        token,
        body: { indexesAllowed: ['dep_a'], groups: ['g'] },
      });
    });

    it('writes the app atomically and reports steps and file hashes', async () => {
      const preview = await t.request('GET', '/v1/render?cluster=dep_east', { token });
      expect(preview.body.lastDeployment).toBeNull();
      expect(preview.body.files.every((f: { changed: boolean }) => f.changed)).toBe(true);
      expect(preview.body.files[0].diff).toContain('+[dep_a]');

      const done = await deploy(t, token, 'dep_east');
      expect(done.status).toBe('succeeded');
      expect(done.requestedBy).toBe('deployer');
      expect(done.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
        'render:succeeded',
        'write:succeeded',
        'reload:succeeded',
        'record:succeeded',
      ]);
      const dir = join(t.dir, 'dep_east', 'manager-apps', 'fleet_indexes', 'local');
      expect(readdirSync(dir).sort()).toEqual(['authentication.conf', 'authorize.conf', 'indexes.conf']);
      for (const file of done.files) {
        const content = readFileSync(join(dir, file.name), 'utf8');
        expect(file.sha256).toBe(sha256(content));
        expect(file.bytes).toBe(Buffer.byteLength(content));
      }
      const indexes = parseConf(readFileSync(join(dir, 'indexes.conf'), 'utf8'));
      expect(indexes.stanzas.map((s) => s.name)).toEqual(['dep_a', 'dep_b']);
      expect(indexes.stanzas[0]!.settings.repFactor).toBe('auto');

      // After the deployment the preview has nothing pending; a change shows up as a diff
      const after = await t.request('GET', '/v1/render?cluster=dep_east&content=false', { token });
      expect(after.body.lastDeployment).toMatchObject({ deploymentId: done.id, version: 1 });
      expect(after.body.files.map((f: { changed: boolean; diff: string }) => [f.changed, f.diff])).toEqual([
        [false, ''],
        [false, ''],
        [false, ''],
      ]);
      expect(after.body.files[0].content).toBeUndefined();
      await t.request('PATCH', '/v1/indexes/dep_b', { token, body: { maxTotalDataSizeMB: 4096 } });
      const changed = await t.request('GET', '/v1/render?cluster=dep_east', { token });
      expect(changed.body.files[0].changed).toBe(true);
      expect(changed.body.files[0].diff).toContain('-maxTotalDataSizeMB = 1024\n+maxTotalDataSizeMB = 4096');
      expect(changed.body.files[0].diff).toMatch(
        /^--- a\/indexes\.conf \(deployed v1\)\n\+\+\+ b\/indexes\.conf \(rendered\)\n@@ /,
      );

      const audit = await t.request('GET', `/v1/audit?resourceType=deployment&resourceName=${done.id}`, {
        token,
      });
      expect(audit.body.items[0]).toMatchObject({
        action: 'deployment.start',
        actor: 'deployer',
        cluster: 'dep_east',
      });
    });

    it('sends a target only its configured files, to apps/ when not clustered', async () => {
      const done = await deploy(t, token, 'dep_west');
      expect(done.status).toBe('succeeded');
      const dir = join(t.dir, 'dep_west', 'apps', 'fleet_indexes', 'local');
      expect(readdirSync(dir)).toEqual(['indexes.conf']);
      expect(readFileSync(join(dir, 'indexes.conf'), 'utf8')).not.toContain('repFactor');
    });

    it('runs the command after writing, and rolls the files back when it fails', async () => {
      const dir = join(t.dir, 'cmd', 'manager-apps', '_cluster', 'local');
      const first = await deploy(t, token, 'cmd');
      expect(first.status).toBe('succeeded');
      expect(first.steps[2].detail).toContain('succeeded');
      expect(readFileSync(join(t.dir, 'fail-once.log'), 'utf8')).toBe(`cmd ${dir}\n`);
      const v1 = readFileSync(join(dir, 'indexes.conf'), 'utf8');

      await t.request('PATCH', '/v1/indexes/cmd_a', { token, body: { description: 'v2' } });
      writeFileSync(join(t.dir, 'fail-once'), '');
      const second = await deploy(t, token, 'cmd');
      expect(second.status).toBe('rolled_back');
      expect(second.error).toContain('bundle validation failed');
      expect(second.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
        'render:succeeded',
        'write:succeeded',
        'reload:failed',
        'rollback:succeeded',
        'reload-previous:succeeded',
      ]);
      expect(readFileSync(join(dir, 'indexes.conf'), 'utf8')).toBe(v1);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // Still pending: the preview diffs against v1
      const preview = await t.request('GET', '/v1/render?cluster=cmd', { token });
      expect(preview.body.lastDeployment.deploymentId).toBe(first.id);
      expect(preview.body.files[0].diff).toContain('+# description: "v2"');
      // And the next attempt goes through
      expect((await deploy(t, token, 'cmd')).status).toBe('succeeded');
      expect(readFileSync(join(dir, 'indexes.conf'), 'utf8')).toContain('"v2"');
    });

    it('runs one deployment per cluster at a time (409 for the second)', async () => {
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          t.request('POST', '/v1/deployments', { token, body: { cluster: 'slow' } }),
        ),
      );
      const accepted = results.filter((r) => r.status === 202);
      const rejected = results.filter((r) => r.status === 409);
      expect(accepted).toHaveLength(1);
      expect(rejected).toHaveLength(3);
      for (const r of rejected)
        expect(r.body).toMatchObject({
          code: 'deployment_in_progress',
          field: 'cluster',
          runningDeployment: accepted[0]!.body.id,
        });
      // Another cluster is not blocked
      expect(
        (await t.request('POST', '/v1/deployments', { token, body: { cluster: 'dep_west' } })).status,
      ).toBe(202);
      await eventually(async () => {
        const res = await t.request('GET', `/v1/deployments/${accepted[0]!.body.id}`, { token });
        return res.body.status === 'succeeded';
      });
      // Once finished, the cluster can be deployed again
      expect((await deploy(t, token, 'slow')).status).toBe('succeeded');
      const list = await t.request('GET', '/v1/deployments?cluster=slow', { token });
      expect(list.body.items).toHaveLength(2);
    });

    it('validates deployment requests', async () => {
      expect(
        (await t.request('POST', '/v1/deployments', { token, body: { cluster: 'nowhere' } })).body,
      ).toMatchObject({
        statusCode: 422,
        code: 'unknown_cluster',
        field: 'cluster',
      });
      expect((await t.request('POST', '/v1/deployments', { token, body: {} })).status).toBe(400);
      expect((await t.request('GET', '/v1/deployments/not-a-uuid', { token })).status).toBe(400);
      expect(
        (await t.request('GET', '/v1/deployments/00000000-0000-4000-8000-000000000000', { token })).status,
      ).toBe(404);
      expect((await t.request('GET', '/v1/render?cluster=nowhere', { token })).status).toBe(422);
    });
  });
}
