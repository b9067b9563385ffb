import { createHash } from 'node:crypto';
import type { Queryable } from '@fleet/chassis/db';
import { type ClusterState, CONF_FILES, type ConfFileName, renderFiles } from '../conf/render.js';
import type { ClusterConfig, ProvisionerConfig } from '../config.js';
import { allIndexes, allRoles } from '../store.js';
import { DomainError } from './validation.js';

export type Settings = ProvisionerConfig['provisioner'];

export function clusterConfig(settings: Settings, cluster: string, field = 'cluster'): ClusterConfig {
  const config = Object.hasOwn(settings.clusters, cluster) ? settings.clusters[cluster] : undefined;
  if (!config)
    throw new DomainError(
      422,
      'unknown_cluster',
      `cluster '${cluster}' is not configured (known: ${Object.keys(settings.clusters).join(', ') || 'none'})`,
      field,
    );
  return config;
}

export function filesOf(config: ClusterConfig): readonly ConfFileName[] {
  return config.files ?? CONF_FILES;
}

/** The state a cluster's files are rendered from: its indexes, and every role. */
export async function clusterState(q: Queryable, settings: Settings, cluster: string): Promise<ClusterState> {
  const config = clusterConfig(settings, cluster);
  const [indexes, roles] = await Promise.all([allIndexes(q, cluster), allRoles(q)]);
  return {
    cluster,
    clustered: config.clustered,
    strategy: settings.authStrategy,
    paths: settings.paths,
    indexes,
    roles,
  };
}

export async function renderCluster(
  q: Queryable,
  settings: Settings,
  cluster: string,
): Promise<Record<string, string>> {
  const config = clusterConfig(settings, cluster);
  return renderFiles(await clusterState(q, settings, cluster), filesOf(config));
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function fileHashes(
  files: Record<string, string>,
): Array<{ name: string; sha256: string; bytes: number }> {
  return Object.entries(files).map(([name, content]) => ({
    name,
    sha256: sha256(content),
    bytes: Buffer.byteLength(content, 'utf8'),
  }));
}

/** Clusters whose files change when a role changes (those receiving authorize/authentication.conf). */
export function clustersForRoles(settings: Settings): string[] {
  return Object.entries(settings.clusters)
    .filter(([, config]) => filesOf(config).some((f) => f !== 'indexes.conf'))
    .map(([name]) => name);
}
