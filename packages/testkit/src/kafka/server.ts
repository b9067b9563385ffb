/** One broker node: a TCP listener serving the shared cluster state under its node id. */
import { createServer, type Server } from 'node:net';
import type { Cluster } from './cluster.js';
import { Connection } from './connection.js';

export class BrokerNode {
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly cluster: Cluster,
    readonly nodeId: number,
  ) {}

  get running(): boolean {
    return this.cluster.isRunning(this.nodeId);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Listen on the node's port (0 picks a free port, remembered for restarts). */
  async start(): Promise<void> {
    if (this.server) return;
    const info = this.cluster.nodes[this.nodeId]!;
    const server = createServer((socket) => {
      if (!this.cluster.isRunning(this.nodeId)) {
        socket.destroy();
        return;
      }
      const conn = new Connection(socket, this.cluster, this.nodeId, (c) => this.connections.delete(c));
      this.connections.add(conn);
    });
    server.on('error', (err) => this.cluster.log(`broker ${this.nodeId}: server error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host: this.cluster.options.host, port: info.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === 'object') info.port = address.port;
    this.server = server;
    info.running = true;
    this.cluster.log(`broker ${this.nodeId} listening on ${this.cluster.options.host}:${info.port}`);
  }

  /** Stop listening and close every client connection; state is kept for a restart. */
  async stop(): Promise<void> {
    const server = this.server;
    const info = this.cluster.nodes[this.nodeId]!;
    info.running = false;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.dropConnections();
    await closed;
    this.cluster.log(`broker ${this.nodeId} stopped`);
  }

  /** Close all current client connections (the listener keeps accepting new ones). */
  dropConnections(): void {
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }
}
