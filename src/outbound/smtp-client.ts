/**
 * One outgoing SMTP connection over nodemailer's SMTP client, kept open for
 * several messages to one destination (RSET between them). STARTTLS is
 * opportunistic: used when offered, and a certificate that does not verify
 * (self-signed, wrong name) is accepted, because the alternative, plain
 * text, is no safer (RFC 7435); a failed handshake falls back to the next
 * address rather than to plain text on that one.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Readable } from 'node:stream';
import type { NextHop } from './route.js';

export interface ConnectOptions {
  /** Our name for EHLO. */
  name: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The outcome of one recipient after a transaction. */
export interface RecipientReply {
  address: string;
  /** The remote's reply, in its own words; or our sentence when the connection failed. */
  reply: string;
  /** 2xx: accepted; 5xx: permanent; anything else: try again later. */
  code: number;
  /** Whether `reply` came from the remote server. */
  remote: boolean;
}

/** A failure to reach any address of a hop, or a connection that broke. */
export class ConnectionFailure extends Error {
  constructor(message: string, readonly reply: string | null, readonly code: number) {
    super(message);
    this.name = 'ConnectionFailure';
  }
}

interface NodemailerError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  rejectedErrors?: NodemailerError[];
  recipient?: string;
}

function replyText(err: NodemailerError): string {
  return (err.response ?? err.message).replace(/\s*\r?\n\s*/g, ' ').trim();
}

export class OutboundConnection {
  private constructor(private readonly conn: SMTPConnection, readonly hop: NextHop, readonly address: string) {}

  /** Messages sent over this connection so far. */
  sent = 0;
  private broken = false;

  get usable(): boolean {
    return !this.broken && !this.conn.destroyed;
  }

  /** Connects to the first address of the hop that answers with a 2xx greeting. */
  static async open(hop: NextHop, opts: ConnectOptions): Promise<OutboundConnection> {
    let last: ConnectionFailure | null = null;
    for (const address of hop.addresses) {
      try {
        return await OutboundConnection.openOne(hop, address, opts);
      } catch (err) {
        last = err as ConnectionFailure;
      }
    }
    throw last ?? new ConnectionFailure(`${hop.host} has no address to connect to`, null, 451);
  }

  private static openOne(hop: NextHop, address: string, opts: ConnectOptions): Promise<OutboundConnection> {
    const conn = new SMTPConnection({
      host: address,
      port: hop.port,
      name: opts.name,
      opportunisticTLS: true,
      ...(hop.host !== address ? { servername: hop.host } : {}),
      tls: { rejectUnauthorized: false },
      connectionTimeout: opts.connectTimeoutMs,
      greetingTimeout: opts.connectTimeoutMs,
      socketTimeout: opts.commandTimeoutMs,
      // Loopback and private next hops are legitimate here (transport maps, tests, LAN relays).
      allowInternalNetworkInterfaces: true,
      logger: false,
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.once('error', (err: NodemailerError) => {
        if (settled) return;
        settled = true;
        conn.close();
        reject(new ConnectionFailure(`connecting to ${hop.host}[${address}]:${hop.port}: ${err.message}`, err.response ? replyText(err) : null, err.responseCode ?? 451));
      });
      conn.connect((err?: NodemailerError) => {
        if (settled) return;
        settled = true;
        if (err) {
          conn.close();
          reject(new ConnectionFailure(`connecting to ${hop.host}[${address}]:${hop.port}: ${err.message}`, err.response ? replyText(err) : null, err.responseCode ?? 451));
          return;
        }
        const out = new OutboundConnection(conn, hop, address);
        // Later errors (a dropped connection between messages) only mark it unusable.
        conn.on('error', () => { out.broken = true; });
        conn.on('end', () => { out.broken = true; });
        resolve(out);
      });
    });
  }

  /**
   * Sends one message to recipients. Returns each recipient's reply. A
   * connection that breaks throws ConnectionFailure: nobody's fate is known.
   */
  send(from: string, to: string[], message: Readable, size: number): Promise<RecipientReply[]> {
    return new Promise((resolve, reject) => {
      this.conn.send({ from, to, size }, message, (err: NodemailerError | null, info?: { accepted: string[]; rejectedErrors?: NodemailerError[]; response: string }) => {
        this.sent++;
        if (!err && info) {
          const replies: RecipientReply[] = info.accepted.map((address) => ({ address, reply: info.response, code: 250, remote: true }));
          for (const r of info.rejectedErrors ?? []) replies.push({ address: r.recipient ?? '', reply: replyText(r), code: r.responseCode ?? 451, remote: true });
          resolve(replies);
          return;
        }
        const e = err!;
        if (e.responseCode && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')) {
          // The remote refused: per recipient when it did at RCPT, else the whole message.
          const perRcpt = new Map<string, RecipientReply>();
          for (const r of e.rejectedErrors ?? []) {
            if (r.recipient) perRcpt.set(r.recipient, { address: r.recipient, reply: replyText(r), code: r.responseCode ?? 451, remote: true });
          }
          resolve(to.map((address) => perRcpt.get(address) ?? { address, reply: replyText(e), code: e.responseCode!, remote: true }));
          return;
        }
        this.broken = true;
        this.conn.close();
        reject(new ConnectionFailure(`sending to ${this.hop.host}[${this.address}]: ${e.message}`, e.response ? replyText(e) : null, e.responseCode ?? 451));
      });
    });
  }

  /** RSET before the next message; false (and closed) if the connection is no good any more. */
  reset(): Promise<boolean> {
    if (!this.usable) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.conn.reset((err) => {
        if (err) {
          this.broken = true;
          this.conn.close();
          resolve(false);
          return;
        }
        resolve(true);
      });
    });
  }

  /** QUIT and close. */
  close(): void {
    this.broken = true;
    try {
      this.conn.quit();
    } catch {
      // already gone
    }
    setTimeout(() => this.conn.close(), 1000).unref();
  }
}
