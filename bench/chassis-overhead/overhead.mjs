// Per-request cost of each variant in microseconds, measured with app.inject (no sockets, no load
// generator): many short batches per variant, alternating, keeping the fastest batches. Much less
// sensitive to other load on the machine than req/s, but leaves out the HTTP/socket work that
// dominates a real request, so read it as "what the chassis adds", not as a throughput ratio.
// node bench/chassis-overhead/overhead.mjs [--rounds 30] [--batch 2000] [--variants bare,chassis,...]
//                                           [--baseline other/dist/index.js]
import { fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    batch: { type: 'string', default: '2000' },
    baseline: { type: 'string' },
    variants: {
      type: 'string',
      default: 'bare,bare-als,chassis-min,chassis-nolog,chassis-notrace,chassis-nometrics,chassis',
    },
  },
});
const rounds = Number(values.rounds);
const batch = Number(values.batch);
const variants = values.variants.split(',');
const serverPath = fileURLToPath(new URL('./server.mjs', import.meta.url));
const devNull = openSync('/dev/null', 'w');
const env = {
  ...process.env,
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.1',
};

function ask(child, message, key) {
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply[key] === undefined) return;
      child.off('message', onMessage);
      resolve(reply[key]);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

const children = {};
for (const variant of variants) {
  const child = fork(serverPath, [variant, ...(values.baseline ? [values.baseline] : [])], {
    execArgv: process.execArgv,
    env,
    stdio: ['ignore', devNull, 'inherit', 'ipc'],
  });
  await ask(child, 'cpu', 'cpu'); // answers once the server is up
  for (let i = 0; i < 5; i++) await ask(child, { inject: batch }, 'nsPerReq'); // warm up
  children[variant] = child;
}
const samples = Object.fromEntries(variants.map((v) => [v, []]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...variants].reverse() : variants;
  for (const variant of order)
    samples[variant].push(await ask(children[variant], { inject: batch }, 'nsPerReq'));
}
for (const child of Object.values(children)) child.send('stop');

/** Mean of the fastest quarter of the batches. */
const fast = (xs) => {
  const s = [...xs].sort((a, b) => a - b).slice(0, Math.max(1, Math.floor(xs.length / 4)));
  return s.reduce((a, b) => a + b, 0) / s.length / 1000;
};
const bare = samples.bare ? fast(samples.bare) : undefined;
console.log(`app.inject, ${rounds} rounds x ${batch} requests per variant; us/request (fastest quarter)`);
for (const variant of variants) {
  const us = fast(samples[variant]);
  const delta = bare === undefined ? '' : `  (+${(us - bare).toFixed(2)} us over bare)`;
  console.log(`${variant.padEnd(18)} ${us.toFixed(2)} us${delta}`);
}
