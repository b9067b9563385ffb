// Where a variant's CPU goes under load, by concern: samples a CPU profile of the server during
// the measured load only (not startup or warmup) and attributes each sample to the first frame on
// its stack that belongs to a concern. Shares of one profile do not depend on other load on the
// machine the way req/s does, so this is the tool for "what costs most".
// node bench/chassis-overhead/profile.mjs [--variant chassis] [--duration 8] [--top 30] [--out file]
//                                          [--baseline other/dist/index.js]
import { fork } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'chassis' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '64' },
    baseline: { type: 'string' },
    top: { type: 'string', default: '30' },
    out: { type: 'string' },
  },
});
const variant = values.variant;
const out = values.out ?? join(tmpdir(), `chassis-overhead-${variant}-${process.pid}.cpuprofile`);
const serverArgs = [variant, ...(values.baseline ? [values.baseline] : [])];
const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), serverArgs, {
  execArgv: process.execArgv,
  env: { ...process.env, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'],
});
const ask = (message, key) =>
  new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply[key] === undefined) return;
      child.off('message', onMessage);
      resolve(reply[key]);
    };
    child.on('message', onMessage);
    child.send(message);
  });
const { port } = await new Promise((resolve) => child.once('message', resolve));
const url = `http://127.0.0.1:${port}/hello/123`;
const connections = Number(values.connections);
await autocannon({ url, connections, duration: 3 });
await ask({ profile: { start: true } }, 'profiled');
const result = await autocannon({ url, connections, duration: Number(values.duration) });
await ask({ profile: { stop: out } }, 'profiled');
child.send('stop');

/**
 * The concern a stack frame belongs to; `null` for Fastify's request flow (hook runners, handler
 * invocation), which runs nested inside the tracing hook's context.with() but is not its cost.
 */
function concern({ url, functionName }) {
  if (
    /fastify\/lib\/(hooks|handle-request|route|wrap-thenable|four-oh-four)\.js|node:_http_server/.test(url)
  ) {
    return null;
  }
  if (/@opentelemetry|chassis\/dist\/tracing/.test(url)) return 'tracing (OTel SDK + chassis hooks)';
  if (
    /async_hooks/.test(url) ||
    /^(emitInit|emitBefore|emitAfter|emitDestroy|_propagate|promiseInitHook)/.test(functionName)
  )
    return 'context propagation (AsyncLocalStorage on async_hooks)';
  if (/node_modules\/(pino|sonic-boom)|chassis\/dist\/logging/.test(url)) return 'logging';
  if (/prom-client|chassis\/dist\/metrics/.test(url)) return 'metrics';
  if (/chassis\/dist\//.test(url)) return 'other chassis code';
  return undefined;
}

const profile = JSON.parse(readFileSync(out, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
const shares = new Map();
const frames = new Map();
let busy = 0;
for (const id of profile.samples) {
  const leaf = nodes.get(id).callFrame;
  if (leaf.functionName === '(idle)') continue;
  busy++;
  let found;
  for (let at = id; at !== undefined && found === undefined; at = parents.get(at)) {
    found = concern(nodes.get(at).callFrame);
  }
  found ??= undefined; // null: Fastify's flow
  const name =
    found ?? (leaf.functionName === '(garbage collector)' ? 'garbage collector' : 'Fastify, HTTP, Node');
  shares.set(name, (shares.get(name) ?? 0) + 1);
  if (found) {
    const frame = `${found.split(' ')[0]} | ${leaf.functionName || '(native)'} ${leaf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(packages|bench)\//, '$1/')}:${leaf.lineNumber + 1}`;
    frames.set(frame, (frames.get(frame) ?? 0) + 1);
  }
}
const pct = (n) => `${((100 * n) / busy).toFixed(1).padStart(5)}%`;
console.log(`${variant}: ${Math.round(result.requests.average)} req/s while profiled; profile: ${out}`);
console.log('share of busy CPU samples by concern:');
for (const [name, n] of [...shares].sort((a, b) => b[1] - a[1])) console.log(`${pct(n)} ${name}`);
console.log('heaviest frames inside the concerns (self time):');
for (const [name, n] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${pct(n)} ${name}`);
}
