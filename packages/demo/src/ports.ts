import { createServer } from 'node:net';

/** Resolves true when nothing listens on `port` of `host` (we can bind it ourselves). */
function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function ephemeral(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `count` distinct ports that were free a moment ago: consecutive from `base` skipping busy ones
 * (readable, stable URLs), or ephemeral ones when no base is given.
 */
export async function freePorts(count: number, host: string, base?: number): Promise<number[]> {
  const ports: number[] = [];
  if (base === undefined) {
    while (ports.length < count) {
      const port = await ephemeral(host);
      if (!ports.includes(port)) ports.push(port);
    }
    return ports;
  }
  for (let port = base; ports.length < count; port++) {
    if (port > 65_535) throw new Error(`not enough free ports from DEMO_PORT=${base}`);
    if (await isFree(port, host)) ports.push(port);
  }
  return ports;
}
