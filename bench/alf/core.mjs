// The pipeline core alone, in this process: decode (scan), route, rate-limit, batch, serialise,
// gzip, for 1 KB records, against a naive core (JSON.parse + envelope object + JSON.stringify +
// gzip). Figures are events per CPU-second of this process (what one core sustains) and per
// wall-clock second. Imported by run.mjs; `node bench/alf/core.mjs` runs it alone.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzip as gzipCallback, gzipSync } from 'node:zlib';
import { createLogger, FlagsClient, MemoryFlagStore } from '@fleet/chassis';
import { Dials } from '../../services/alf/dist/dials.js';
import { AlfMetrics } from '../../services/alf/dist/metrics.js';
import { Pipeline, parseIndexedFields } from '../../services/alf/dist/pipeline.js';
import { parseRules } from '../../services/alf/dist/rules.js';
import { ServiceRegistry } from '../../services/alf/dist/services.js';

const LEVELS = ['debug', 'info', 'info', 'info', 'warn', 'error'];

/** `n` distinct log records of about `size` bytes, as a logging library would write them. */
export function makeRecords(n, size = 1024, services = 50) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const base = {
      timestamp: new Date(Date.now() - 1000 + (i % 1000)).toISOString(),
      service: `svc-${i % services}`,
      level: LEVELS[i % LEVELS.length],
      host: `host-${i % 37}.dc1.example.com`,
      message: '',
      fields: {
        region: i % 3 === 0 ? 'eu-west-1' : 'us-east-1',
        request_id: `req-${i}`,
        user_id: i * 7,
        duration_ms: (i % 500) / 3,
      },
      trace_id: (i * 2654435761).toString(16).padStart(16, '0'),
    };
    const filler = `GET /api/v1/items/${i} status=200 bytes=${i * 13} "ua=Mozilla/5.0" `;
    const room = size - JSON.stringify(base).length;
    base.message = filler.repeat(Math.ceil(room / filler.length)).slice(0, Math.max(0, room));
    out.push(Buffer.from(JSON.stringify(base)));
  }
  return out;
}

export const benchRules = {
  defaultRoute: { index: 'app', sourcetype: 'alf:json' },
  routes: [
    { match: { service: 'svc-1*', level: '>=error' }, index: 'app_errors', sourcetype: 'alf:err' },
    { match: { service: 'svc-2', fields: { 'fields.region': 'eu-*' } }, index: 'app_eu' },
    { match: { service: 'svc-3?' }, sourcetype: 'alf:three' },
    { match: { level: 'trace' }, drop: true },
  ],
  limits: [
    { service: 'svc-4*', level: 'debug', rate: 1e9, burst: 1e9 },
    { service: '*', rate: 1e9, burst: 1e9 },
  ],
  budget: { eventsPerSec: 1e10, bytesPerSec: 1e13 },
};

const gzipAsync = promisify(gzipCallback);

function cpuSeconds(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

/** CPU seconds of the main thread alone (the event loop), from /proc: excludes libuv pool threads. */
function mainThreadCpu() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * gzip: 'sync' compresses each sealed batch inline (one core does everything), 'pool' the way
 * the service does it (zlib.gzip on the libuv pool, so the event loop only serialises), false
 * not at all.
 */
export async function alfCore(values, seconds, { gzip = 'sync', keep = null } = {}) {
  const log = createLogger({ service: 'bench', version: '0', level: 'silent' });
  const flags = new FlagsClient({ store: new MemoryFlagStore(), log });
  await flags.start();
  const metrics = new AlfMetrics();
  const dials = new Dials(flags);
  let compressed = 0;
  let pipeline;
  const compressing = new Set();
  pipeline = new Pipeline(
    {
      topics: ['logs'],
      maxEventBytes: 512 * 1024,
      serviceHeader: 'service',
      levelHeader: 'level',
      indexedFields: parseIndexedFields(['level', 'region=fields.region']).fields,
      maxInFlightBytes: 1 << 30,
      batch: { maxEvents: 1000, maxBytes: 1 << 20, lingerMs: 60_000 },
    },
    parseRules(benchRules),
    {
      log,
      metrics,
      services: new ServiceRegistry(),
      dials,
      // The HEC side stops at the compressed body: delivery is what the end-to-end run measures
      sink: (batch) => {
        // A few real batches, for the gzip level comparison
        if (keep !== null && keep.length < 4 && batch.size >= 500)
          keep.push({ bytes: Buffer.from(batch.bytes()), events: batch.size });
        const done = () => {
          pipeline.delivered(batch.events, 0, batch.size, Date.now());
          pipeline.batcher.recycle(batch.buf);
        };
        if (gzip === 'pool') {
          const p = gzipAsync(batch.bytes(), { level: 1, chunkSize: 64 * 1024 }).then((body) => {
            compressed += body.length;
            compressing.delete(p);
            done();
          });
          compressing.add(p);
          return;
        }
        if (gzip === 'sync') compressed += gzipSync(batch.bytes(), { level: 1 }).length;
        done();
      },
      deadLetter: (_m, _r, _d, done) => done(),
    },
  );
  // Handler calls of 500 records, as the consumer makes them (the messages are reused: the
  // chassis builds them from the fetch, which is not the pipeline's cost)
  const chunkOf = 500;
  const chunks = [];
  for (let k = 0; k < values.length; k += chunkOf)
    chunks.push(
      values.slice(k, k + chunkOf).map((value, i) => ({
        topic: 'logs',
        partition: 0,
        offset: k + i,
        key: null,
        value,
        headers: {},
        timestamp: Date.now(),
      })),
    );
  const run = async (deadline) => {
    let n = 0;
    while (performance.now() < deadline) {
      for (const chunk of chunks) {
        pipeline.ingest(chunk);
        n += chunk.length;
        // With gzip on the pool, at most 4 batches compress at once (as HEC connections would)
        while (compressing.size >= 4) await Promise.race(compressing);
      }
    }
    pipeline.flush();
    await Promise.all(compressing);
    return n;
  };
  await run(performance.now() + 500); // warm-up
  const bytesBefore = compressed;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpu();
  const t0 = performance.now();
  const n = await run(t0 + seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  const mainCpu = mainThreadCpu() - main0;
  dials.close();
  await flags.close();
  pipeline.close();
  return { n, wall, cpu, mainCpu, ratio: (compressed - bytesBefore) / (n * values[0].length) };
}

function naiveCore(values, seconds) {
  const run = (deadline) => {
    let n = 0;
    let lines = [];
    while (performance.now() < deadline) {
      for (const value of values) {
        const o = JSON.parse(value.toString('utf8'));
        const envelope = {
          time: Date.parse(o.timestamp) / 1000,
          host: o.host,
          source: o.service,
          sourcetype: 'alf:json',
          index: 'app',
          fields: { level: o.level, region: o.fields?.region },
          event: o,
        };
        lines.push(JSON.stringify(envelope));
        if (lines.length === 1000) {
          gzipSync(Buffer.from(lines.join('\n')), { level: 1 });
          lines = [];
        }
        n++;
      }
    }
    return n;
  };
  run(performance.now() + 500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = run(t0 + seconds * 1000);
  return { n, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(cpu0) };
}

/** gzip of ALF's own serialised batches (full ones, 1 MiB) at `level`: the compression cost and ratio. */
function gzipOnly(batches, seconds, level = 1) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  let inBytes = 0;
  let outBytes = 0;
  while (performance.now() - t0 < seconds * 1000)
    for (const b of batches) {
      outBytes += gzipSync(b.bytes, { level }).length;
      inBytes += b.bytes.length;
      n += b.events;
    }
  return { n, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(cpu0), ratio: outBytes / inBytes };
}

export async function benchCore({ seconds = 5, size = 1024, naive: withNaive = true } = {}) {
  const values = makeRecords(2000, size);
  const avg = values.reduce((a, v) => a + v.length, 0) / values.length;
  const batches = [];
  const alf = await alfCore(values, seconds, { keep: batches });
  const naive = withNaive ? naiveCore(values, seconds) : { n: 0, wall: 1, cpu: 1 };
  const pool = await alfCore(values, Math.min(seconds, 3), { gzip: 'pool' });
  const noGzip = await alfCore(values, Math.min(seconds, 3), { gzip: false });
  const levels = [1, 3, 6].map((level) => ({ level, ...gzipOnly(batches, Math.min(seconds, 2), level) }));
  const naiveRate = naive.n / naive.cpu;
  const row = (name, r) => ({
    pipeline: name,
    events: r.n,
    'events/cpu-s': Math.round(r.n / r.cpu),
    '× naive': Number((r.n / r.cpu / naiveRate).toFixed(2)),
    // The event loop's own CPU: with gzip on the pool, the thread a single ALF process is bound by
    'event-loop events/cpu-s': r.mainCpu === undefined ? null : Math.round(r.n / r.mainCpu),
    'events/wall-s': Math.round(r.n / r.wall),
    'cpu-s': Number(r.cpu.toFixed(2)),
    'wall-s': Number(r.wall.toFixed(2)),
  });
  return {
    recordBytes: Math.round(avg),
    gzipRatio: alf.ratio,
    rows: [
      row('ALF core, gzip level 1 inline (one thread does all)', alf),
      row('naive parse+stringify+gzip (baseline)', naive),
      row('ALF core, gzip on the libuv pool (as the service)', pool),
      row('ALF core without gzip', noGzip),
      ...levels.map((l) => row(`gzip level ${l.level} alone, to ${(l.ratio * 100).toFixed(1)} %`, l)),
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchCore({ seconds: Number(process.argv[2] ?? 5) });
  console.log(`records of ${r.recordBytes} B, gzip level 1 to ${(r.gzipRatio * 100).toFixed(1)} %`);
  console.table(r.rows);
}
