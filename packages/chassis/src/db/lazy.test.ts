import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

// A child process records every module resolved (a loader hook) while it imports the chassis
const CHILD = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const resolved = [];
port1.on('message', (url) => resolved.push(url));
const hook = 'let port; export function initialize(data) { port = data.port; }' +
  'export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
register('data:text/javascript,' + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
const drivers = () => resolved.filter((u) => /node_modules\\/(pg|@electric-sql\\/pglite)\\//.test(u)).map((u) => u.replace(/.*node_modules\\//, ''));
const settle = () => new Promise((r) => setTimeout(r, 100));
const report = {};
await import(process.argv[1]);
const db = await import(process.argv[2]);
await settle();
report.onImport = drivers();
await db.loadPg();
await settle();
report.afterUse = drivers();
port1.close();
console.log(JSON.stringify(report));
`;

it('loads neither pg nor PGlite until a database is opened (chassis and @fleet/chassis/db)', async () => {
  const main = fileURLToPath(new URL('../index.ts', import.meta.url));
  const db = fileURLToPath(new URL('./index.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD, '--', main, db],
    { cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 30_000 },
  );
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { onImport: string[]; afterUse: string[] };
  expect(report.onImport).toEqual([]);
  // The hook does see the drivers once one is needed
  expect(report.afterUse.some((u) => u.startsWith('pg/'))).toBe(true);
}, 40_000);
