// Time from `create-service` to a service answering /health/ready, wall and CPU, step by step.
//
//   node packages/create-service/bench/time-to-ready.mjs [--template base] [--runs 3] [--fresh] [--keep]
//
// In a throwaway copy of the monorepo skeleton (root package.json and package-lock.json,
// tsconfig.base.json, biome.json, templates/, packages/chassis and packages/testkit as published: with
// their built dist), as a developer would in a checkout whose dependencies are installed:
//   setup     npm install at the root (not timed unless --fresh: then it is the first step)
//   generate  create-service <name> --template <t> --yes --install   (its npm install links the new
//             workspace; npm_config_prefer_offline=true, the cache is warm after the repo's npm ci)
//   build     npm run build in the service (tsc -p tsconfig.build.json)
//   start     npm start, until GET /health/ready answers 200
// Each run generates a new service. CPU is user + system of the step's whole process tree: for the
// first two steps from bash's `times` (children reaped), for `start` from /proc (Linux) at the moment
// readiness answers. Wall times stretch on a loaded machine; CPU times much less.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = resolve(PACKAGE_DIR, '../..');

const { values } = parseArgs({
  options: {
    template: { type: 'string', default: 'base' },
    runs: { type: 'string', default: '3' },
    fresh: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

/** Copy what `npm pack` would publish of a workspace package. */
function copyPublished(pkgDir, to) {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  mkdirSync(to, { recursive: true });
  for (const entry of ['package.json', ...(pkg.files ?? [])])
    if (existsSync(join(pkgDir, entry))) cpSync(join(pkgDir, entry), join(to, entry), { recursive: true });
}

function skeleton() {
  const root = mkdtempSync(join(tmpdir(), 'fleet-ttr-'));
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'biome.json'])
    cpSync(join(REPO_ROOT, file), join(root, file));
  cpSync(join(REPO_ROOT, 'templates'), join(root, 'templates'), { recursive: true });
  for (const pkg of ['chassis', 'testkit']) {
    if (!existsSync(join(REPO_ROOT, 'packages', pkg, 'dist/index.js')))
      throw new Error(`packages/${pkg} has no dist: npm run build -w @fleet/${pkg} first`);
    copyPublished(join(REPO_ROOT, 'packages', pkg), join(root, 'packages', pkg));
  }
  mkdirSync(join(root, 'services'));
  return root;
}

const ENV = { ...process.env, npm_config_prefer_offline: 'true', NO_COLOR: '1', CI: '1' };

/** Run a command under bash; resolves with wall seconds and the CPU seconds of its process tree. */
function timed(command, cwd) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    // `times` prints the shell's, then its reaped children's, user and system time
    const log = join(tmpdir(), `fleet-ttr-${process.pid}.log`);
    const child = spawn('bash', ['-c', `${command} >"$TTR_LOG" 2>&1; s=$?; times; exit $s`], {
      cwd,
      env: { ...ENV, TTR_LOG: log },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.on('close', (code) => {
      const wall = (performance.now() - started) / 1000;
      const output = existsSync(log) ? readFileSync(log, 'utf8') : '';
      rmSync(log, { force: true });
      if (code !== 0)
        return reject(new Error(`${command} exited ${code} (in ${cwd}):\n${output.slice(-2000)}`));
      const lines = out.trim().split('\n');
      const seconds = (t) => {
        const m = /(\d+)m([\d.]+)s/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
      };
      const [user, sys] = (lines.at(-1) ?? '').split(/\s+/).map(seconds);
      resolvePromise({ wall, cpu: user + sys });
    });
    child.on('error', reject);
  });
}

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
    server.on('error', reject);
  });
}

/** User + system seconds of every process in a process group (Linux /proc), else NaN. */
function groupCpu(pgid) {
  if (!existsSync('/proc/self/stat')) return Number.NaN;
  const ticks = 100; // USER_HZ: 100 on every Linux architecture Node supports
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15
      if (Number(fields[2]) !== pgid) continue;
      total += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** npm start in its own process group until /health/ready answers 200. */
async function startUntilReady(cwd) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start'], {
    cwd,
    env: { ...ENV, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true,
  });
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
      if (res?.status === 200) {
        const wall = (performance.now() - started) / 1000;
        return { wall, cpu: groupCpu(child.pid) };
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the service did not get ready within 60 s');
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
}

const fmt = (n) => (Number.isNaN(n) ? '   n/a' : n.toFixed(1).padStart(6));
const root = skeleton();
const cli = join(PACKAGE_DIR, 'dist/cli.js');
if (!existsSync(cli)) throw new Error('create-service has no dist: npm run build -w create-service first');
const rows = [];
try {
  console.log(
    `monorepo skeleton: ${root}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  if (!values.fresh) {
    const setup = await timed('npm install --no-audit --no-fund', root);
    console.log(
      `setup: npm install at the root ${setup.wall.toFixed(1)} s wall, ${setup.cpu.toFixed(1)} s CPU`,
    );
  }
  for (let run = 1; run <= Number(values.runs); run++) {
    const name = `ttr-${run}`;
    const generate = await timed(`node ${cli} ${name} --template ${values.template} --yes --install`, root);
    const build = await timed('npm run build', join(root, 'services', name));
    const start = await startUntilReady(join(root, 'services', name));
    rows.push({ run, generate, build, start, load: loadavg()[0] });
    const total = {
      wall: generate.wall + build.wall + start.wall,
      cpu: generate.cpu + build.cpu + start.cpu,
    };
    console.log(
      `run ${run}${values.fresh && run === 1 ? ' (first install)' : ''}: ` +
        `generate+install ${fmt(generate.wall)} s /${fmt(generate.cpu)} s CPU | ` +
        `build ${fmt(build.wall)} /${fmt(build.cpu)} | start→ready ${fmt(start.wall)} /${fmt(start.cpu)} | ` +
        `total ${fmt(total.wall)} s wall /${fmt(total.cpu)} s CPU | load ${loadavg()[0].toFixed(1)}`,
    );
  }
} finally {
  if (values.keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
