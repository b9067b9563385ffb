// Chassis 0.2.0: graceful shutdown behind Kubernetes load balancers.
//
// The chassis turns readiness to 503 on SIGTERM, waits `SHUTDOWN_DRAIN_DELAY_MS` so that load
// balancers stop routing to the pod, drains in-flight requests within `SHUTDOWN_TIMEOUT_MS`, and
// exits. With no drain delay, requests routed during endpoint propagation fail; with a grace period
// shorter than delay + timeout, Kubernetes kills the pod mid-drain. This migration gives every
// container of the service's Deployment a drain delay (5 s unless it has one), makes
// terminationGracePeriodSeconds cover delay + timeout + 5 s, and documents the variable in
// .env.example. Idempotent: a service that already has both is left as it is.
import { editText, editYaml } from './_lib.mjs';

export const version = '0.2.0';
export const description =
  'Kubernetes graceful shutdown: SHUTDOWN_DRAIN_DELAY_MS on every container, a grace period that covers it';

const DRAIN = 'SHUTDOWN_DRAIN_DELAY_MS';
const DEFAULT_DRAIN_MS = 5000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

function envValue(container, name) {
  const entry = (container.env ?? []).find((e) => e.name === name);
  const n = Number(entry?.value);
  return Number.isFinite(n) && entry?.value !== undefined ? n : undefined;
}

export async function migrate(serviceDir, context) {
  await editYaml(
    serviceDir,
    'deploy/k8s/deployment.yaml',
    (docs) => {
      for (const doc of docs) {
        if (doc.get('kind') !== 'Deployment') continue;
        const spec = ['spec', 'template', 'spec'];
        const containers = doc.getIn([...spec, 'containers'])?.items ?? [];
        let longest = 0;
        containers.forEach((node, i) => {
          const container = node.toJSON();
          let drain = envValue(container, DRAIN);
          if (drain === undefined) {
            drain = DEFAULT_DRAIN_MS;
            const path = [...spec, 'containers', i, 'env'];
            const entry = doc.createNode({ name: DRAIN, value: String(DEFAULT_DRAIN_MS) });
            if (doc.getIn(path)) doc.getIn(path).add(entry);
            else doc.setIn(path, doc.createNode([{ name: DRAIN, value: String(DEFAULT_DRAIN_MS) }]));
          }
          const timeout = envValue(container, 'SHUTDOWN_TIMEOUT_MS') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
          longest = Math.max(longest, Math.ceil((drain + timeout) / 1000) + 5);
        });
        const grace = doc.getIn([...spec, 'terminationGracePeriodSeconds']) ?? 30;
        if (grace < longest) doc.setIn([...spec, 'terminationGracePeriodSeconds'], longest);
      }
    },
    context,
  );
  await editText(
    serviceDir,
    '.env.example',
    (text) =>
      new RegExp(`^\\s*${DRAIN}=`, 'm').test(text)
        ? text
        : `${text.endsWith('\n') || text === '' ? text : `${text}\n`}# Time between readiness turning 503 and closing the listener on shutdown\n${DRAIN}=0\n`,
    context,
  );
}
