// Chassis overhead benchmark: bare Fastify vs a chassis service with every concern on.
// node bench/chassis-overhead/run.mjs [--rounds 8] [--duration 3] [--warmup 3] [--connections 64]
//                                      [--variants bare,chassis] [--rate N] [--baseline other/dist/index.js]
//                                      [--propagation async-context|request] [--pin]
// A variant may carry a `#tag` (`chassis-request#2`): a second server of the same variant, to see
// how much two processes of identical code differ.
// Each server runs in its own child process (same node flags as this one) and only one is under
// load at a time; autocannon runs here, in the parent.
// The last line is `ratio 0.NN propagation=<mode>`: median chassis req/s over median bare req/s, the
// chassis tracing with the given propagation mode (--propagation, default request: the mode built
// for throughput). By default the run also measures `chassis-async`, the same service in the
// chassis's default async-context mode, and names its ratio on the last line too. Variants
// chassis-request / chassis-async pin the mode, to compare both in one run.
import { execFileSync, fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    baseline: { type: 'string' },
    variants: { type: 'string', default: 'bare,chassis,chassis-async' },
    rate: { type: 'string' },
    propagation: { type: 'string', default: 'request' },
    pin: { type: 'boolean', default: false },
  },
});
const propagationMode = values.propagation;
if (!['async-context', 'request'].includes(propagationMode))
  throw new Error(`--propagation must be async-context or request, not ${propagationMode}`);
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const variants = values.variants.split(',');
const serverPath = fileURLToPath(new URL('./server.mjs', import.meta.url));
const devNull = openSync('/dev/null', 'w');
const cpus = availableParallelism();
if (values.pin) execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus - 2}`, String(process.pid)]);

// The chassis's tracer samples 10% of new traces (parent-based); the SDK reads these at start.
const serverEnv = {
  ...process.env,
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.1',
};

function startServer(variant) {
  return new Promise((resolve, reject) => {
    const args = [
      variant.split('#')[0],
      ...(values.baseline ? [values.baseline] : []),
      `--propagation=${propagationMode}`,
    ];
    const child = fork(serverPath, args, {
      execArgv: process.execArgv,
      env: serverEnv,
      stdio: ['ignore', devNull, 'inherit', 'ipc'],
    });
    child.once('message', (info) => {
      // --pin: every server on the last CPU, autocannon (this process) on the others, so the
      // load generator and the server do not preempt each other (Linux taskset)
      if (values.pin) execFileSync('taskset', ['-a', '-p', '-c', String(cpus - 1), String(child.pid)]);
      resolve({ child, ...info });
    });
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}

// --rate N: a fixed request rate instead of as many as possible. req/s then says nothing, but the
// server CPU per request compares variants at the same batching level, and much less disturbed by
// other load on the machine.
const rate = values.rate ? Number(values.rate) : undefined;

function load(port, seconds) {
  return autocannon({
    url: `http://127.0.0.1:${port}/hello/123`,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
  });
}

/** Servers in which something entered an AsyncLocalStorage. */
const alsEntered = new Set();

/** The server process's CPU time so far (user + system, microseconds). */
function serverCpu(child) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (!message.cpu) return;
      child.off('message', onMessage);
      if (message.als) alsEntered.add(child);
      resolve(message.cpu);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

async function measure(server) {
  const cpuBefore = await serverCpu(server.child);
  const result = await load(server.port, duration);
  const cpuAfter = await serverCpu(server.child);
  const user = cpuAfter.user - cpuBefore.user;
  const system = cpuAfter.system - cpuBefore.system;
  const bad = result.errors + result.non2xx + result.timeouts;
  if (bad > 0) throw new Error(`${server.variant}: ${bad} failed requests`);
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    usPerReq: (user + system) / total,
    sysPerReq: system / total,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

console.log(
  `node ${process.version} ${process.execArgv.join(' ')} | ${rounds} rounds x ${duration}s per variant ` +
    `(after ${warmup}s warmup), -c ${connections}, GET /hello/123`,
);
console.log(
  `tracing: OTEL_TRACES_SAMPLER=${serverEnv.OTEL_TRACES_SAMPLER} ARG=${serverEnv.OTEL_TRACES_SAMPLER_ARG} ` +
    `TRACING_PROPAGATION=${propagationMode} (variant chassis)`,
);
const results = Object.fromEntries(variants.map((v) => [v, []]));
const cpuPerReq = Object.fromEntries(variants.map((v) => [v, []]));
const sysPerReq = Object.fromEntries(variants.map((v) => [v, []]));
// Every server starts (and warms up) once; afterwards only the one being measured gets load.
const servers = {};
try {
  for (const variant of variants) {
    const server = await startServer(variant);
    servers[variant] = { ...server, variant };
    if (server.features.length) console.log(`${variant}: ${server.features.join(' ')}`);
    if (warmup > 0) await load(server.port, warmup);
  }
  for (let round = 1; round <= rounds; round++) {
    // alternate the order so drift (thermal, other load) does not favour one variant
    const order = round % 2 ? variants : [...variants].reverse();
    const line = [];
    for (const variant of order) {
      const { rps, p99, usPerReq, sysPerReq: sys } = await measure(servers[variant]);
      sysPerReq[variant].push(sys);
      results[variant].push(rps);
      cpuPerReq[variant].push(usPerReq);
      line.push(
        `${variant} ${Math.round(rps)} req/s (${usPerReq.toFixed(1)} us cpu/req, ${sys.toFixed(1)} sys, p99 ${p99} ms)`,
      );
    }
    console.log(`round ${round}: ${line.join(' | ')}`);
  }
} finally {
  await Promise.all(Object.values(servers).map((server) => stopServer(server.child)));
}
const medians = Object.fromEntries(variants.map((v) => [v, median(results[v])]));
const bare = medians.bare;
for (const v of variants) {
  const ratio = bare ? ` (${(medians[v] / bare).toFixed(2)} of bare)` : '';
  const cpu = `${median(cpuPerReq[v]).toFixed(1)} (min ${Math.min(...cpuPerReq[v]).toFixed(1)}, system ${median(sysPerReq[v]).toFixed(1)})`;
  const als = alsEntered.has(servers[v]?.child) ? 'entered' : 'never entered';
  console.log(
    `median ${v}: ${Math.round(medians[v])} req/s${ratio}, server cpu ${cpu} us/req, AsyncLocalStorage ${als}`,
  );
}
for (const v of variants) {
  if (v === 'bare' || !results.bare) continue;
  // same-round pairs: less sensitive to slow drifts of the machine's load than the medians
  const paired = results[v].map((rps, i) => rps / results.bare[i]);
  const sorted = [...paired].sort((x, y) => x - y);
  console.log(
    `paired ${v}/bare ratios: ${paired.map((r) => r.toFixed(2)).join(' ')} ` +
      `(median ${median(paired).toFixed(2)}, range ${sorted[0].toFixed(2)}-${sorted.at(-1).toFixed(2)})`,
  );
}
// CPU per request is much steadier than req/s on a shared machine: bare's CPU per request over a
// variant's is the share of bare's throughput the variant would keep on a core of its own.
if (cpuPerReq.bare) {
  const bareCpu = median(cpuPerReq.bare);
  const line = variants
    .filter((v) => v !== 'bare')
    .map((v) => `${v} ${(bareCpu / median(cpuPerReq[v])).toFixed(2)}`);
  console.log(`cpu ratios (bare cpu/req over the variant's, medians): ${line.join(' | ')}`);
  // same-round CPU ratios: what drifts with the machine (other load, frequency) cancels out
  const paired = variants
    .filter((v) => v !== 'bare')
    .map((v) => {
      const rs = cpuPerReq[v].map((us, i) => cpuPerReq.bare[i] / us).sort((x, y) => x - y);
      return `${v} ${median(rs).toFixed(2)} (${rs[0].toFixed(2)}-${rs.at(-1).toFixed(2)})`;
    });
  console.log(`paired cpu ratios (same round, median and range): ${paired.join(' | ')}`);
}
const chassis = medians.chassis;
const asyncNote =
  bare && medians['chassis-async'] && propagationMode !== 'async-context'
    ? ` (chassis-async, the default async-context mode: ${(medians['chassis-async'] / bare).toFixed(2)})`
    : '';
console.log(
  bare && chassis
    ? `ratio ${(chassis / bare).toFixed(2)} propagation=${propagationMode}${asyncNote}`
    : 'ratio n/a',
);
