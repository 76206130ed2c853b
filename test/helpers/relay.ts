/** A TCP relay to whichever port is current: a traffic manager without stickiness, for web tests. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class Relay {
  /** The port on 127.0.0.1 new connections go to. */
  target = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  constructor() {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }
  /** Cuts every relayed connection (a traffic manager taking a node out). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }
  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
