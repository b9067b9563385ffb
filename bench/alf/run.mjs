#!/usr/bin/env node
// ALF performance: the pipeline core alone, end to end (test broker → ALF → HEC test receiver),
// kafkajs alone draining the same records (drain.mjs: the floor), the naive baseline (consume one
// message, POST one event), latency at half the measured throughput, and ALF's memory under a
// sustained flood against a slow HEC. See README.md.
//
//   npm run build -w @fleet/testkit -w @fleet/chassis -w @fleet/alf && node bench/alf/run.mjs [options]
//
// Options: --events N (150000) --size BYTES (1024) --partitions N (4) --core-seconds S (5)
//          --naive-seconds S (8) --latency-seconds S (15) --flood-seconds S (30)
//          --skip core,e2e,naive,latency,flood --latency-rate N (default: half the measured rate)
//          "--alf-node-args=--cpu-prof ..." (extra node options for the ALF process)
//
// Processes: this one runs the HEC receiver (keepEvents: false); the broker and ALF run in
// child processes, so each one's CPU time is its own (read from /proc). Other work on the machine
// makes wall-clock figures noisy: CPU-time figures say what one core sustains.
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startHecReceiver } from '@fleet/testkit';
import { benchCore, benchRules } from './core.mjs';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '150000' },
    size: { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '4' },
    'core-seconds': { type: 'string', default: '5' },
    'naive-seconds': { type: 'string', default: '8' },
    'latency-seconds': { type: 'string', default: '15' },
    'flood-seconds': { type: 'string', default: '30' },
    skip: { type: 'string', default: '' },
    'latency-rate': { type: 'string', default: '' },
    'alf-node-args': { type: 'string', default: '' },
  },
});
const EVENTS = Number(args.events);
const SIZE = Number(args.size);
const PARTITIONS = Number(args.partitions);
const skip = new Set(args.skip.split(',').filter(Boolean));
const TOKEN = 'b1a5e0c2-0000-4000-8000-000000000001';
const ALF_MAIN = fileURLToPath(new URL('../../services/alf/dist/main.js', import.meta.url));
const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const CLK_TCK = 100;
const results = {};
const WARMUP_SECONDS = 5;
/** How late the HEC receiver answers during the flood (HEC slower than the input). */
const HEC_DELAY_MS = 500;

/** Child processes started by this run: stopped whatever happens. */
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

// ---- process helpers -----------------------------------------------------------------------

/** CPU seconds of a process (every thread), or of its main thread (the event loop) alone. */
function procCpu(pid, mainThreadOnly = false) {
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

function procRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---- the broker --------------------------------------------------------------------------------

const brokerProc = fork(here('./broker.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
process.on('exit', () => {
  if (brokerProc.exitCode === null) brokerProc.kill('SIGKILL');
});
// A broker that dies would leave every wait below hanging: stop the run (children go with it)
let brokerClosing = false;
brokerProc.on('exit', (code, signal) => {
  if (brokerClosing) return;
  console.error(`the broker process exited (${signal ?? code}): stopping the bench`);
  process.exit(1);
});
const pending = new Map();
let nextId = 0;
brokerProc.on('message', (m) => {
  if (m.id !== undefined) {
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  }
});
const brokers = await new Promise((resolve) => brokerProc.once('message', (m) => resolve(m.brokers)));
const broker = (cmd, body = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    brokerProc.send({ id, cmd, ...body });
  });
await broker('templates', { size: SIZE });

// ---- the receiver ------------------------------------------------------------------------------

let received = 0;
let latencies = null;
const hec = await startHecReceiver({
  token: TOKEN,
  keepEvents: false,
  onEvent: (e) => {
    received++;
    if (latencies) latencies.push(e.receivedAt - e.time * 1000);
  },
});

// ---- ALF ---------------------------------------------------------------------------------------

async function startAlf(topic, group, extra = {}) {
  const port = await freePort();
  const nodeArgs = args['alf-node-args'].split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ALF_MAIN], {
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_FROM_BEGINNING: 'true',
      KAFKA_FETCH_MAX_WAIT_MS: '100',
      KAFKA_FETCH_MAX_BYTES: String(16 * 1024 * 1024),
      KAFKA_FETCH_MAX_BYTES_PER_PARTITION: String(2 * 1024 * 1024),
      ALF_TOPICS: topic,
      ALF_GROUP_ID: group,
      ALF_DLQ_TOPIC: `${topic}.dlq`,
      ALF_RULES: JSON.stringify(benchRules),
      ALF_INDEXED_FIELDS: 'level,region=fields.region',
      ALF_CONSUMER_BATCH: '1000',
      ALF_CONSUMER_CONCURRENCY: '64',
      ALF_CONSUMER_MAX_IN_FLIGHT: '8000',
      HEC_URL: hec.url,
      HEC_TOKEN: TOKEN,
      HEC_BATCH_MAX_EVENTS: '1000',
      HEC_BATCH_LINGER_MS: '50',
      HEC_CONNECTIONS: '4',
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  const url = `http://127.0.0.1:${port}`;
  await until(() => child.exitCode === null, 1000, 'ALF');
  for (const deadline = Date.now() + 30_000; ; ) {
    try {
      if ((await fetch(`${url}/health/live`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('ALF did not start');
    await sleep(50);
  }
  return { child, url };
}

/** Ready: the consumer joined its group (readiness check kafka:consumer:<group>), then a settling second. */
async function untilReady(url) {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) {
        await sleep(1000);
        return;
      }
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error('ALF did not become ready');
}

async function stopProcess(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function alfMetric(url, name) {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? Number(n.toFixed(d)) : null);

// ---- 1. pipeline core ----------------------------------------------------------------------------

if (!skip.has('core')) {
  console.log(
    `\n## 1. Pipeline core (decode, route, rate-limit, batch, serialise, gzip level 1), ${SIZE} B records`,
  );
  const core = await benchCore({ seconds: Number(args['core-seconds']), size: SIZE });
  console.log(`records of ${core.recordBytes} B; batches compress to ${(core.gzipRatio * 100).toFixed(1)} %`);
  console.table(core.rows);
  results.core = core.rows;
}

// ---- 2. end to end, as fast as it goes ----------------------------------------------------------

async function e2e() {
  const topic = 'bench-e2e';
  await broker('create', { topic, partitions: PARTITIONS });
  const { count } = await broker('preload', { topic, partitions: PARTITIONS, count: EVENTS });
  console.log(
    `\n## 2. End to end: ${count} records of ~${SIZE} B preloaded in ${PARTITIONS} partitions, ALF drains them`,
  );
  received = 0;
  const rss = [];
  const { child } = await startAlf(topic, 'alf-e2e');
  const sampler = setInterval(() => rss.push(procRssMb(child.pid)), 100);
  await until(() => received > 0, 60_000, 'the first event');
  const t0 = performance.now();
  const n0 = received;
  const alf0 = procCpu(child.pid);
  const self0 = selfCpu();
  const broker0 = (await broker('cpu')).cpu;
  // Steady state: from the first 10 % to the end (the first second is JIT warm-up on a cold process)
  await until(() => received >= count * 0.1, 600_000, '10 % of the events');
  const t10 = performance.now();
  const n10 = received;
  const alf10 = procCpu(child.pid);
  const loop10 = procCpu(child.pid, true);
  await until(() => received >= count, 600_000, 'every event');
  const wall = (performance.now() - t0) / 1000;
  const steadyWall = (performance.now() - t10) / 1000;
  const steadyCpu = procCpu(child.pid) - alf10;
  const steadyLoopCpu = procCpu(child.pid, true) - loop10;
  const alfCpu = procCpu(child.pid) - alf0;
  const selfCpuS = selfCpu() - self0;
  const broker1 = (await broker('cpu')).cpu;
  const brokerCpu = (broker1.user + broker1.system - broker0.user - broker0.system) / 1e6;
  clearInterval(sampler);
  const n = received - n0;
  await stopProcess(child);
  const committed = await broker('committed', { group: 'alf-e2e', topic });
  const floor = await drainFloor(topic, count);
  const row = {
    events: n,
    'wall-s': fmt(wall, 2),
    'events/s (wall)': fmt(n / wall),
    'steady events/s (wall)': fmt((received - n10) / steadyWall),
    'ALF cpu-s': fmt(alfCpu, 2),
    'ALF events/cpu-s': fmt(n / alfCpu),
    'steady ALF events/cpu-s': fmt((received - n10) / steadyCpu),
    // The event loop alone (gzip runs on pool threads): what bounds one ALF process
    'steady ALF event-loop events/cpu-s': fmt((received - n10) / steadyLoopCpu),
    'ALF cores used': fmt(alfCpu / wall, 2),
    'receiver cpu-s': fmt(selfCpuS, 2),
    'broker cpu-s': fmt(brokerCpu, 2),
    'ALF max RSS MB': fmt(Math.max(...rss.filter(Number.isFinite)), 1),
    'kafkajs drain events/cpu-s': fmt(floor.n / floor.cpu),
    // Of ALF's CPU per event, the share kafkajs alone needs to fetch and decode the records
    'kafkajs share of ALF cpu': fmt(floor.cpu / floor.n / (alfCpu / n), 2),
  };
  console.table([row]);
  console.log(
    `committed at the end: ${JSON.stringify(committed.offsets)} (high watermarks ${JSON.stringify(committed.hw)})`,
  );
  results.e2e = row;
  return n / wall;
}

/** kafkajs alone drains the same topic (drain.mjs): the CPU floor of any kafkajs-based forwarder. */
async function drainFloor(topic, count) {
  let consumed = 0;
  const child = fork(here('./drain.mjs'), [], {
    env: { PATH: process.env.PATH, KAFKA_BROKERS: brokers.join(','), TOPIC: topic, GROUP: 'drain-floor' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.on('message', (m) => {
    consumed = m.consumed;
  });
  // Measured like ALF: from the first record to the last
  await until(() => consumed > 0, 60_000, 'the first drained record');
  const n0 = consumed;
  const cpu0 = procCpu(child.pid);
  await until(() => consumed >= count, 600_000, 'the drain');
  const cpu = procCpu(child.pid) - cpu0;
  const n = consumed - n0;
  await stopProcess(child);
  return { n, cpu };
}

// ---- 3. naive baseline -----------------------------------------------------------------------

async function naive() {
  const topic = 'bench-naive';
  const seconds = Number(args['naive-seconds']);
  await broker('create', { topic, partitions: PARTITIONS });
  await broker('preload', { topic, partitions: PARTITIONS, count: 40_000 });
  console.log(
    `\n## 3. Naive baseline: consume one message, POST one event (no batching, no gzip), ${seconds} s`,
  );
  received = 0;
  const child = fork(here('./naive.mjs'), [], {
    env: {
      PATH: process.env.PATH,
      KAFKA_BROKERS: brokers.join(','),
      TOPIC: topic,
      GROUP: 'naive',
      HEC_URL: hec.url,
      HEC_TOKEN: TOKEN,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  await until(() => received > 0, 60_000, 'the first naive event');
  const t0 = performance.now();
  const n0 = received;
  const cpu0 = procCpu(child.pid);
  await sleep(seconds * 1000);
  const n = received - n0;
  const wall = (performance.now() - t0) / 1000;
  const cpu = procCpu(child.pid) - cpu0;
  await stopProcess(child);
  const row = {
    events: n,
    'wall-s': fmt(wall, 2),
    'events/s (wall)': fmt(n / wall),
    'cpu-s': fmt(cpu, 2),
    'events/cpu-s': fmt(n / cpu),
  };
  console.table([row]);
  results.naive = row;
}

// ---- 4. latency at half the measured throughput ---------------------------------------------

async function latency(rate) {
  const topic = 'bench-latency';
  const seconds = Number(args['latency-seconds']);
  await broker('create', { topic, partitions: PARTITIONS });
  console.log(
    `\n## 4. Latency at half load: ${rate} events/s for ${seconds} s after a ${WARMUP_SECONDS} s warm-up (event timestamp → accepted by HEC)`,
  );
  const { child, url } = await startAlf(topic, 'alf-latency');
  await untilReady(url);
  // Warm-up at the same rate (JIT, connections, zlib threads), not measured
  received = 0;
  const warm = await broker('rate', { topic, partitions: PARTITIONS, perSec: rate, seconds: WARMUP_SECONDS });
  await until(() => received >= warm.produced, 60_000, 'the warm-up');
  await sleep(500);
  received = 0;
  latencies = [];
  const cpu0 = procCpu(child.pid);
  const self0 = selfCpu();
  const broker0 = (await broker('cpu')).cpu;
  const t0 = performance.now();
  const { produced } = await broker('rate', { topic, partitions: PARTITIONS, perSec: rate, seconds });
  await until(() => received >= produced, 60_000, 'the latency run');
  const wall = (performance.now() - t0) / 1000;
  const cpu = procCpu(child.pid) - cpu0;
  const broker1 = (await broker('cpu')).cpu;
  const brokerCpu = (broker1.user + broker1.system - broker0.user - broker0.system) / 1e6;
  const selfCpuS = selfCpu() - self0;
  await stopProcess(child);
  const sorted = Float64Array.from(latencies).sort();
  latencies = null;
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const row = {
    events: sorted.length,
    'rate/s': rate,
    'p50 ms': fmt(q(0.5)),
    'p90 ms': fmt(q(0.9)),
    'p99 ms': fmt(q(0.99)),
    'max ms': fmt(sorted[sorted.length - 1]),
    'ALF cores used': fmt(cpu / wall, 2),
    // A latency backlog with ALF idle points at the other processes (or the machine's load)
    'broker cores used': fmt(brokerCpu / wall, 2),
    'receiver cores used': fmt(selfCpuS / wall, 2),
    'wall-s': fmt(wall, 1),
  };
  console.table([row]);
  results.latency = row;
}

// ---- 5. memory under a sustained flood against a slow HEC -------------------------------------

async function flood(rate) {
  const topic = 'bench-flood';
  const seconds = Number(args['flood-seconds']);
  await broker('create', { topic, partitions: PARTITIONS });
  console.log(
    `\n## 5. Sustained flood: ${rate} events/s for ${seconds} s into ALF while HEC answers every request ${HEC_DELAY_MS} ms late (ALF_MAX_IN_FLIGHT_BYTES 64 MiB)`,
  );
  const fault = hec.faults.delay(HEC_DELAY_MS, { phase: 'before-accept' });
  const { child, url } = await startAlf(topic, 'alf-flood');
  await untilReady(url);
  received = 0;
  const samples = [];
  const sampler = setInterval(async () => {
    const [inFlight, heap, external] = await Promise.all(
      ['alf_in_flight_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes'].map((n) =>
        alfMetric(url, n),
      ),
    );
    samples.push({ rss: procRssMb(child.pid), inFlight, heap: heap / 2 ** 20, external: external / 2 ** 20 });
  }, 250);
  const { produced } = await broker('rate', { topic, partitions: PARTITIONS, perSec: rate, seconds });
  clearInterval(sampler);
  const committed = await broker('committed', { group: 'alf-flood', topic });
  const lag = committed.hw.reduce((a, hw, p) => a + hw - (committed.offsets[p] ?? 0), 0);
  fault.clear();
  await stopProcess(child);
  const half = Math.floor(samples.length / 2);
  const max = (xs) => Math.max(...xs.filter(Number.isFinite));
  const quarters = [1, 2, 3, 4].map((k) =>
    fmt(
      max(
        samples
          .slice(Math.floor(((k - 1) * samples.length) / 4), Math.floor((k * samples.length) / 4))
          .map((s) => s.rss),
      ),
      1,
    ),
  );
  console.log(`ALF RSS, max per quarter of the flood (MB): ${quarters.join(' → ')}`);
  const last = samples.filter((x) => Number.isFinite(x.heap)).at(-1);
  if (last)
    console.log(
      `at the end: V8 heap used ${fmt(last.heap, 1)} MB, external (Buffers) ${fmt(last.external, 1)} MB`,
    );
  const row = {
    produced,
    'delivered during flood': received,
    'lag at end': lag,
    'RSS max MB (1st half)': fmt(max(samples.slice(0, half).map((s) => s.rss)), 1),
    'RSS max MB (2nd half)': fmt(max(samples.slice(half).map((s) => s.rss)), 1),
    'in-flight max MB': fmt(max(samples.map((s) => s.inFlight)) / 1024 / 1024, 1),
  };
  console.table([row]);
  results.flood = row;
}

try {
  let throughput = Number.NaN;
  if (!skip.has('e2e')) throughput = await e2e();
  if (!skip.has('naive')) await naive();
  const half = Math.max(
    1000,
    Math.round((Number.isFinite(throughput) ? throughput : 20_000) / 2 / 100) * 100,
  );
  if (!skip.has('latency')) await latency(args['latency-rate'] ? Number(args['latency-rate']) : half);
  if (!skip.has('flood')) await flood(half * 2);

  console.log('\n## Against the targets (2-core machine shared with other work)');
  const rows = [];
  if (results.core)
    rows.push({
      target: 'pipeline core >= 150k events/s/core',
      measured: `${results.core[0]['events/cpu-s']} events/cpu-s with gzip inline, ${results.core[0]['× naive']}× the naive core (${results.core[1]['events/cpu-s']}); event loop with gzip on the pool ${results.core[2]['event-loop events/cpu-s']}`,
    });
  if (results.e2e)
    rows.push({
      target: 'end to end >= 50k events/s',
      measured: `${results.e2e['steady events/s (wall)']} events/s wall (steady); ALF ${results.e2e['steady ALF events/cpu-s']} events/cpu-s, event loop ${results.e2e['steady ALF event-loop events/cpu-s']}; kafkajs alone ${results.e2e['kafkajs drain events/cpu-s']}`,
    });
  if (results.naive)
    rows.push({
      target: 'naive baseline (same run)',
      measured: `${results.naive['events/s (wall)']} events/s wall`,
    });
  if (results.latency)
    rows.push({
      target: 'p99 latency < 1 s at half load',
      measured: `${results.latency['p99 ms']} ms at ${results.latency['rate/s']}/s`,
    });
  if (results.flood)
    rows.push({
      target: 'RSS bounded under a flood',
      measured: `${results.flood['RSS max MB (1st half)']} → ${results.flood['RSS max MB (2nd half)']} MB, in flight <= ${results.flood['in-flight max MB']} MB`,
    });
  console.table(rows);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`load average at the end: ${load} (2 cores)`);
} finally {
  for (const c of children) await stopProcess(c);
  await hec.close();
  brokerClosing = true;
  await broker('close');
}
