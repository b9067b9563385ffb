#!/usr/bin/env node
// fleet-demo: the whole fleet on one machine (`npm run demo`). Ctrl-C stops everything; a second Ctrl-C forces.
import { banner } from './banner.js';
import { type Demo, demoOptionsFromEnv, startDemo } from './demo.js';

let demo: Demo | undefined;
let stopping = false;
const starting = new AbortController();

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    process.stderr.write(`\n${signal} again: killing every service now\n`);
    demo?.kill();
    process.exit(130);
  }
  stopping = true;
  if (!demo) {
    // still starting: startDemo stops what it started and rejects
    process.stderr.write(`\n${signal}: stopping the start (Ctrl-C again to force)\n`);
    starting.abort();
    return;
  }
  process.stderr.write(`\n${signal}: stopping every service (Ctrl-C again to force)\n`);
  demo.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stopping failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

try {
  process.stderr.write('Fleet demo: starting the embedded infrastructure and the services...\n');
  demo = await startDemo({ ...demoOptionsFromEnv(), signal: starting.signal });
} catch (error) {
  if (starting.signal.aborted) process.exit(0);
  process.stderr.write(`\nThe demo did not start: ${(error as Error).message}\n`);
  process.exit(1);
}
if (stopping) {
  await demo.stop();
  process.exit(0);
}
process.stdout.write(banner(demo));
