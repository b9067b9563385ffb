import { relative } from 'node:path';

/** A path relative to `cwd` when it is below it, else absolute: what a user can paste. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

import type { Demo } from './demo.js';
import { FLOOD_SERVICE, SERVICE_NAMES } from './env.js';

/** Shell variable holding each service's URL in the printed commands. */
export const URL_VARS = {
  console: 'CONSOLE',
  'index-provisioner': 'INDEXES',
  'plugin-runner': 'PLUGINS',
  alf: 'ALF',
  'log-generator': 'LOGGEN',
} as const;

/** The walkthrough of the README as copy-paste commands (they use $TOKEN and the URL variables). */
export function walkthrough(demo: Demo, cwd = process.cwd()): string[] {
  const auth = '-H "authorization: Bearer $TOKEN"';
  const json = "-H 'content-type: application/json'";
  const splunk = shown(demo.splunkDir, cwd);
  const viaConsole = demo.services.console !== undefined;
  const flood = (value: number) =>
    viaConsole
      ? `curl -s -X PUT $CONSOLE/api/flags/log-generator.flood ${auth} ${json} -d '{"value":${value}}'`
      : `curl -s -X PUT $LOGGEN/admin/flags/log-generator.flood ${auth} ${json} -d '{"value":${value}}'`;
  return [
    '# 1. Flip a flag: turn the flood off, see log-generator follow within a second, turn it on again',
    flood(0),
    `curl -s $LOGGEN/admin/loggen ${auth}`,
    flood(10_000),
    '',
    `# 2. Throttle the flood: see who floods, drop 90 % of ${FLOOD_SERVICE}, watch ALF count the drops`,
    `curl -s "$ALF/admin/alf/top?window=10" ${auth}`,
    viaConsole
      ? `curl -s -X POST $CONSOLE/api/alf/throttle ${auth} ${json} -d '{"service":"${FLOOD_SERVICE}"}'`
      : `curl -s -X PUT $ALF/admin/flags/alf.drop.service.${FLOOD_SERVICE} ${auth} ${json} -d '{"value":9000}'`,
    'curl -s $ALF/metrics | grep ^alf_events_dropped_total',
    '',
    '# 3. Change a log level at runtime (ALF\'s info lines show up here; "warn" quiets it again), and the log rate',
    viaConsole
      ? `curl -s -X PUT $CONSOLE/api/services/alf/log-level ${auth} ${json} -d '{"level":"info"}'`
      : `curl -s -X PUT $ALF/admin/log-level ${auth} ${json} -d '{"level":"info"}'`,
    `curl -s -X PUT $LOGGEN/admin/loggen ${auth} ${json} -d '{"rate":50}'`,
    '',
    '# 4. Create an index, deploy the dev cluster, read the file it wrote',
    `curl -s -X POST $INDEXES/v1/indexes ${auth} ${json} -d '{"name":"payments_api","datatype":"event","retention":{"days":30},"maxTotalDataSizeMB":10240,"owner":"payments","cluster":"dev"}'`,
    `curl -s -X POST $INDEXES/v1/deployments ${auth} ${json} -d '{"cluster":"dev"}'`,
    `cat ${splunk}/manager-apps/fleet_indexes/local/indexes.conf`,
    '',
    "# 5. Watch the plugin's cursor advance (run it twice, a few seconds apart)",
    `curl -s $PLUGINS/v1/instances/${demo.pluginInstance} ${auth} | grep -o '"cursor":[^,]*'`,
  ];
}

/** What the CLI prints once everything is ready. */
export function banner(demo: Demo, cwd = process.cwd()): string {
  const rows = SERVICE_NAMES.flatMap((name) => {
    const service = demo.services[name];
    return service ? [`  ${name.padEnd(19)} ${service.url.padEnd(24)} pid ${service.pid ?? '?'}`] : [];
  });
  const exports = SERVICE_NAMES.flatMap((name) => {
    const service = demo.services[name];
    return service ? [`${URL_VARS[name]}=${service.url}`] : [];
  });
  const tokenFile = shown(`${demo.home}/admin.token`, cwd);
  const infra = [
    `  kafka               ${demo.kafka.brokers}${demo.kafka.embedded ? '  (embedded test broker)' : ''}`,
    `  splunk hec          ${demo.hec.url}${demo.hec.embedded ? '  (embedded receiver)' : ''}`,
    `  fake third-party    ${demo.fakeApi.url}/items  (polled by plugin-runner instance ${demo.pluginInstance})`,
  ];
  return [
    '',
    'Fleet demo',
    '',
    ...rows,
    ...infra,
    '',
    demo.consoleUrl
      ? `Console: ${demo.consoleUrl}`
      : `Console: not running (${demo.consoleSkipped ?? 'unknown reason'})`,
    '',
    `Tokens (12 h): ${tokenFile} (admin), read.token (read-only), team.token (team payments) in the same folder`,
    `  export TOKEN=$(cat ${tokenFile}) ${exports.join(' ')}`,
    '',
    ...walkthrough(demo, cwd).map((line) => (line ? `  ${line}` : '')),
    '',
    `Fleet demo ready in ${(demo.readyMs / 1000).toFixed(1)} s. Ctrl-C stops everything.`,
    '',
  ].join('\n');
}
