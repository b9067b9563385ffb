import { randomUUID } from 'node:crypto';
import type { MetricsRegistry } from '@fleet/chassis';
import { type Db, sqlState, UNIQUE_VIOLATION } from '@fleet/chassis/db';
import { clusterConfig, fileHashes, renderCluster, type Settings } from '../domain/state.js';
import { DomainError } from '../domain/validation.js';
import {
  type DeploymentRecord,
  type DeploymentStatus,
  type DeploymentStep,
  insertAudit,
  insertDeployment,
  lastDeployedFiles,
  recordDeployedFiles,
  runningDeployment,
  updateDeployment,
} from '../store.js';
import type { Logger } from '../types.js';
import { directoryTarget, splunkRestTarget, type TargetDriver, type Undo } from './targets.js';

export interface DeployerOptions {
  db: Db;
  settings: Settings;
  log: Logger;
  metrics: MetricsRegistry;
}

export interface Requester {
  actor: string;
  requestId: string | null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs deployments: render a cluster's files, write them to its target, make Splunk load them, and
 * on failure put the previous files back (and reload those). One deployment per cluster at a time,
 * enforced by the database (see insertDeployment), so it holds across replicas.
 */
export class Deployer {
  readonly #running = new Set<Promise<void>>();
  readonly #deployments;
  readonly #duration;

  constructor(private readonly options: DeployerOptions) {
    this.#deployments = options.metrics.counter<'cluster' | 'status'>({
      name: 'index_provisioner_deployments_total',
      help: 'Deployments finished, by cluster and outcome',
      labelNames: ['cluster', 'status'],
    });
    this.#duration = options.metrics.histogram<'cluster'>({
      name: 'index_provisioner_deployment_duration_seconds',
      help: 'Time from a deployment start to its end',
      labelNames: ['cluster'],
    });
  }

  /** The driver of a cluster's target. */
  driver(cluster: string): TargetDriver {
    const { settings } = this.options;
    const config = clusterConfig(settings, cluster);
    const target = config.target;
    if (target.type === 'directory')
      return directoryTarget(target, {
        cluster,
        clustered: config.clustered,
        appName: settings.appName,
        timeoutMs: settings.deploy.timeoutMs,
      });
    const token = settings.splunkTokens[cluster] || settings.splunkToken || target.token || '';
    return splunkRestTarget(target, {
      cluster,
      appName: settings.appName,
      token,
      timeoutMs: settings.deploy.timeoutMs,
    });
  }

  /**
   * Start a deployment of `cluster`; resolves once it is recorded as running (the work continues in
   * the background). 409 when one is already running for the cluster.
   */
  async start(cluster: string, requester: Requester): Promise<DeploymentRecord> {
    const { db, settings } = this.options;
    const driver = this.driver(cluster);
    const startedAt = new Date().toISOString();
    const files = await renderCluster(db, settings, cluster);
    const hashes = fileHashes(files);
    const renderStep: DeploymentStep = {
      name: 'render',
      status: 'succeeded',
      startedAt,
      finishedAt: new Date().toISOString(),
      detail: `rendered ${hashes.map((h) => h.name).join(', ')}`,
    };
    let record: DeploymentRecord;
    try {
      record = await db.transaction(async (tx) => {
        const inserted = await insertDeployment(
          tx,
          {
            id: randomUUID(),
            cluster,
            requestedBy: requester.actor,
            requestId: requester.requestId,
            target: driver.description,
            files: hashes,
            steps: [renderStep],
          },
          settings.deploy.staleAfterMs,
        );
        await insertAudit(tx, {
          actor: requester.actor,
          action: 'deployment.start',
          resourceType: 'deployment',
          resourceName: inserted.id,
          cluster,
          before: null,
          after: { id: inserted.id, cluster, files: hashes },
          requestId: requester.requestId,
        });
        return inserted;
      });
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
      const running = await runningDeployment(db, cluster);
      throw new DomainError(
        409,
        'deployment_in_progress',
        `a deployment of cluster '${cluster}' is already running`,
        'cluster',
        running ? { runningDeployment: running.id } : {},
      );
    }
    const task = this.#run(record, files, driver).catch((err) => {
      this.options.log.error({ err, deployment_id: record.id }, 'deployment bookkeeping failed');
    });
    this.#running.add(task);
    void task.finally(() => this.#running.delete(task));
    return record;
  }

  /** Wait for the deployments this process runs (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  async #run(record: DeploymentRecord, files: Record<string, string>, driver: TargetDriver): Promise<void> {
    const { db, log } = this.options;
    const started = performance.now();
    const steps = [...record.steps];
    const step = async (name: string, fn: () => Promise<string>): Promise<void> => {
      const entry: DeploymentStep = { name, status: 'running', startedAt: new Date().toISOString() };
      steps.push(entry);
      await updateDeployment(db, record.id, { steps });
      try {
        entry.detail = await fn();
        entry.status = 'succeeded';
      } catch (err) {
        entry.status = 'failed';
        entry.error = message(err);
        throw err;
      } finally {
        entry.finishedAt = new Date().toISOString();
        await updateDeployment(db, record.id, { steps });
      }
    };

    const previous = await lastDeployedFiles(db, record.cluster);
    let undo: Undo | undefined;
    let activated = false;
    let status: DeploymentStatus = 'succeeded';
    let error: string | null = null;
    try {
      await step('write', () =>
        driver.write(files, previous?.files, (fn) => {
          undo = fn;
        }),
      );
      activated = true;
      await step('reload', () => driver.activate(files));
      await step('record', async () => {
        await recordDeployedFiles(db, record.cluster, record.id, files);
        return 'recorded as the deployed version';
      });
    } catch (err) {
      error = message(err);
      status = 'failed';
      if (undo) {
        const restore = undo;
        try {
          await step('rollback', () => restore());
          // The new files may have been (partly) loaded: load the restored ones again
          if (activated) await step('reload-previous', () => driver.activate(files));
          status = 'rolled_back';
        } catch (rollbackErr) {
          error = `${error}; rollback failed: ${message(rollbackErr)}`;
        }
      }
    }
    await updateDeployment(db, record.id, { steps, status, error });
    this.#deployments.inc({ cluster: record.cluster, status });
    this.#duration.observe({ cluster: record.cluster }, (performance.now() - started) / 1000);
    const fields = { deployment_id: record.id, cluster: record.cluster, status, error };
    if (status === 'succeeded') log.info(fields, 'deployment succeeded');
    else log.error(fields, 'deployment failed');
  }
}

/**
 * Deploys clusters automatically after changes, debounced: a burst of changes gives one deployment
 * `debounceMs` after the last one. A cluster busy deploying is retried after another delay.
 */
export class AutoDeployer {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stopped = false;

  constructor(
    private readonly deployer: Deployer,
    private readonly debounceMs: number,
    private readonly log: Logger,
  ) {}

  schedule(clusters: Iterable<string>): void {
    if (this.#stopped) return;
    for (const cluster of clusters) {
      clearTimeout(this.#timers.get(cluster));
      const timer = setTimeout(() => {
        this.#timers.delete(cluster);
        this.deployer.start(cluster, { actor: 'system:auto-deploy', requestId: null }).then(
          (record) => this.log.info({ cluster, deployment_id: record.id }, 'automatic deployment started'),
          (err) => {
            if (err instanceof DomainError && err.code === 'deployment_in_progress') this.schedule([cluster]);
            else this.log.error({ err, cluster }, 'automatic deployment could not start');
          },
        );
      }, this.debounceMs);
      timer.unref();
      this.#timers.set(cluster, timer);
    }
  }

  get pending(): string[] {
    return [...this.#timers.keys()];
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
