// Start-up cost of a chassis service with tracing off, no Kafka and no auth keys: CPU time of
// `import('@fleet/chassis')`, CPU time of createService → start() → GET /health/ready, and RSS
// once ready. Each run is a fresh process; prints the median of N runs (CPU time, not wall time,
// so that other load on the machine matters less).
//
//   node scripts/startup-cost.mjs [runs=9] [entry=dist/index.js]
import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function child(entry) {
  const c0 = cpuMs();
  const { createService } = await import(entry);
  const c1 = cpuMs();
  const service = await createService({
    name: 'startup-cost',
    version: '0.0.0',
    configSources: { env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' }, argv: [], files: [] },
  });
  const { url } = await service.start();
  const status = await new Promise((resolve, reject) => {
    get(`${url}/health/ready`, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
  const c2 = cpuMs();
  const rssMB = process.memoryUsage().rss / 1048576;
  await service.stop();
  if (status !== 200) throw new Error(`/health/ready answered ${status}`);
  return { importCpuMs: c1 - c0, startReadyCpuMs: c2 - c1, rssMB };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3])));
} else {
  const runs = Number(process.argv[2] ?? 9);
  const entry = pathToFileURL(
    process.argv[3] ?? fileURLToPath(new URL('../dist/index.js', import.meta.url)),
  ).href;
  const results = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', entry], {
      encoding: 'utf8',
    });
    results.push(JSON.parse(out.trim().split('\n').at(-1)));
  }
  const summary = {};
  for (const key of ['importCpuMs', 'startReadyCpuMs', 'rssMB'])
    summary[key] = Math.round(median(results.map((r) => r[key])));
  console.log(JSON.stringify({ runs, ...summary }));
}
