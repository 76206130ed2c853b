/**
 * Heartbeats between redundant traffic managers (the seed's ATM pool): the
 * standby sends a small UDP datagram every heartbeat delay to each active
 * it watches; an active answers each one. When `maxLostHeartbeats` pings in
 * a row go unanswered by every peer, the standby takes over.
 *
 *   ping:  "ROOKERY-LB 1 PING <name> <seq>"
 *   pong:  "ROOKERY-LB 1 PONG <name> active <seq>"
 *
 * UDP because a heartbeat that arrives late is worthless: no retransmission,
 * no connection state to go stale. The channel carries no secret; across
 * machines, keep it on a private network (or use keepalived's VRRP instead).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface PeerAddress {
  address: string;
  port: number;
}

const magic = 'ROOKERY-LB 1';
const maxDatagramBytes = 512;

/** Parses "ADDRESS:PORT" or "[IPv6]:PORT"; null if it is not one. */
export function parsePeerAddress(text: string): PeerAddress | null {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const address = m[1] ?? m[2]!;
  if (m[1] !== undefined && !isIPv6(address)) return null;
  return { address, port };
}

function udpType(address: string): 'udp4' | 'udp6' {
  return isIPv6(address) ? 'udp6' : 'udp4';
}

/** The active's side: answers pings on the heartbeat address and port. */
export class HeartbeatResponder {
  private socket: UdpSocket | null = null;

  constructor(private readonly name: string) {}

  /** Binds the heartbeat port; rejects with EADDRINUSE if another active holds it. */
  async listen(at: PeerAddress): Promise<void> {
    const socket = createSocket({ type: udpType(at.address) });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: at.address, port: at.port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => { /* a bad datagram or an unreachable asker is not our problem */ });
    socket.on('message', (msg, from) => {
      if (msg.length > maxDatagramBytes) return;
      const m = /^ROOKERY-LB 1 PING \S+ (\d{1,15})$/.exec(msg.toString('latin1'));
      if (!m) return;
      socket.send(`${magic} PONG ${this.name} active ${m[1]}`, from.port, from.address);
    });
    this.socket = socket;
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}

export interface WatcherOptions {
  /** Our name, sent in pings (for the peer's logs). */
  name: string;
  peers: PeerAddress[];
  /** Time between two pings. */
  heartbeatDelayMs: number;
  /** Pings in a row without an answer from any peer before the peers count as silent. */
  maxLostHeartbeats: number;
  /** Called (once per silence) when every peer has gone silent. */
  onSilent: () => void;
}

/** The standby's side: pings the actives, and says when they all went silent. */
export class HeartbeatWatcher {
  private readonly sockets: { family: 'udp4' | 'udp6'; socket: UdpSocket }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  /** Pings sent since the last answer from any peer. */
  private unanswered = 0;

  constructor(private readonly opts: WatcherOptions) {}

  async start(): Promise<void> {
    for (const family of new Set(this.opts.peers.map((p) => udpType(p.address)))) {
      const socket = createSocket({ type: family });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      // ICMP "port unreachable" from a dead peer shows up as an error: it is just a lost heartbeat.
      socket.on('error', () => {});
      socket.on('message', (msg) => {
        if (msg.length <= maxDatagramBytes && /^ROOKERY-LB 1 PONG \S+ active \d+$/.test(msg.toString('latin1'))) this.unanswered = 0;
      });
      this.sockets.push({ family, socket });
    }
    this.tick();
  }

  private tick(): void {
    if (this.unanswered >= this.opts.maxLostHeartbeats) {
      this.unanswered = 0;
      this.opts.onSilent();
    }
    this.seq++;
    this.unanswered++;
    for (const peer of this.opts.peers) {
      const socket = this.sockets.find((s) => s.family === udpType(peer.address))?.socket;
      socket?.send(`${magic} PING ${this.opts.name} ${this.seq}`, peer.port, peer.address);
    }
    this.timer = setTimeout(() => this.tick(), this.opts.heartbeatDelayMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all(this.sockets.splice(0).map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

/** Asks an active traffic manager whether it is alive: true if it answers within timeoutMs. */
export async function pingPeer(peer: PeerAddress, timeoutMs: number): Promise<boolean> {
  const socket = createSocket({ type: udpType(peer.address) });
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.on('error', () => { /* unreachable: wait for the timeout, the answer is no */ });
      socket.on('message', (msg) => {
        if (/^ROOKERY-LB 1 PONG \S+ active 1$/.test(msg.toString('latin1'))) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      socket.send(`${magic} PING probe 1`, peer.port, peer.address);
    });
  } finally {
    socket.close();
  }
}
