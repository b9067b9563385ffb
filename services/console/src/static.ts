/** The page: index.html, app.js, app.css from `public/`, and uPlot from node_modules. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Service } from '@fleet/chassis';

// `public/` sits next to `src/` and `dist/`, so this resolves from either.
const PUBLIC_DIR = new URL('../public/', import.meta.url);
const require = createRequire(import.meta.url);

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // uPlot sizes its elements through inline styles
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  path: string;
  file: URL | string;
  type: string;
}

const ASSETS: Asset[] = [
  { path: '/', file: new URL('index.html', PUBLIC_DIR), type: 'text/html; charset=utf-8' },
  { path: '/app.js', file: new URL('app.js', PUBLIC_DIR), type: 'text/javascript; charset=utf-8' },
  { path: '/app.css', file: new URL('app.css', PUBLIC_DIR), type: 'text/css; charset=utf-8' },
  {
    path: '/vendor/uPlot.iife.min.js',
    file: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  {
    path: '/vendor/uPlot.min.css',
    file: require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
];

/** Read every asset once (a missing file fails start-up, not the first page view). */
export async function registerStatic(app: Service['app']): Promise<void> {
  for (const asset of ASSETS) {
    const content = await readFile(asset.file);
    app.get(asset.path, { logLevel: 'warn' }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(content),
    );
  }
}
