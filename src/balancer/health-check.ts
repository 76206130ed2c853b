/**
 * One protocol-aware health check: connect (TLS handshake first for TLS
 * services), hold the protocol's shortest polite dialogue, and say whether
 * the backend passed. A server that accepts TCP but cannot serve (a node
 * whose store is gone answers 421 or -ERR) fails here, unlike a port probe.
 *
 *   SMTP  220 greeting, EHLO -> 250, QUIT -> 221
 *   POP3  +OK greeting, QUIT -> +OK
 *   IMAP  * OK greeting, LOGOUT -> tagged OK
 *   HTTP  GET /healthz -> 200
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { encodeProxyV2Local } from '../net/proxy-protocol.js';
import type { CheckProtocol } from './services.js';

export interface CheckTarget {
  address: string;
  port: number;
  protocol: CheckProtocol;
  /** Handshake TLS before the dialogue (submissions, pop3s, imaps); the certificate is not judged. */
  tls: boolean;
  /** Open with a PROXY v2 LOCAL header, as a backend expecting PROXY from us requires. */
  proxyProtocol: boolean;
  /** Local address to connect from, as relayed connections do. */
  sourceAddress?: string;
  /** The name we give in EHLO and Host. */
  hostname: string;
}

export type CheckResult = { ok: true } | { ok: false; reason: string };

/** Replies longer than this are not what a greeting looks like: fail rather than buffer. */
const maxReplyBytes = 8192;

/** Reads CRLF (or LF) lines from a socket, one promise at a time. */
class LineSource {
  private buffered = '';
  private lines: string[] = [];
  private waiting: { resolve: (line: string) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let lf: number;
      while ((lf = this.buffered.indexOf('\n')) >= 0) {
        this.lines.push(this.buffered.slice(0, lf).replace(/\r$/, ''));
        this.buffered = this.buffered.slice(lf + 1);
      }
      if (this.buffered.length > maxReplyBytes) this.fail(new Error(`a reply line longer than ${maxReplyBytes} bytes`));
      this.wake();
    });
    socket.on('end', () => this.fail(new Error('the backend closed the connection')));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('the connection closed')));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    if (!this.waiting) return;
    const w = this.waiting;
    if (this.lines.length > 0) {
      this.waiting = null;
      w.resolve(this.lines.shift()!);
    } else if (this.failure) {
      this.waiting = null;
      w.reject(this.failure);
    }
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.wake();
    });
  }
}

class CheckFailed extends Error {}

/** Reads one SMTP reply, multi-line included (RFC 5321 4.2.1), and returns its code. */
async function smtpReply(lines: LineSource): Promise<{ code: number; text: string }> {
  for (;;) {
    const line = await lines.next();
    const m = /^(\d{3})([ -]|$)/.exec(line);
    if (!m) throw new CheckFailed(`"${line.slice(0, 80)}" is not an SMTP reply`);
    if (m[2] !== '-') return { code: Number(m[1]), text: line };
  }
}

async function expectSmtp(lines: LineSource, code: number, after: string): Promise<void> {
  const reply = await smtpReply(lines);
  if (reply.code !== code) throw new CheckFailed(`${after}: "${reply.text.slice(0, 80)}" instead of ${code}`);
}

async function dialogue(socket: Socket, lines: LineSource, target: CheckTarget): Promise<void> {
  const send = (text: string) => socket.write(text + '\r\n');
  switch (target.protocol) {
    case 'smtp':
      await expectSmtp(lines, 220, 'greeting');
      send(`EHLO ${target.hostname}`);
      await expectSmtp(lines, 250, 'EHLO');
      send('QUIT');
      await expectSmtp(lines, 221, 'QUIT');
      return;
    case 'pop3': {
      const greeting = await lines.next();
      if (!greeting.startsWith('+OK')) throw new CheckFailed(`greeting "${greeting.slice(0, 80)}" is not +OK`);
      send('QUIT');
      const bye = await lines.next();
      if (!bye.startsWith('+OK')) throw new CheckFailed(`QUIT: "${bye.slice(0, 80)}" is not +OK`);
      return;
    }
    case 'imap': {
      const greeting = await lines.next();
      if (!/^\* OK\b/i.test(greeting)) throw new CheckFailed(`greeting "${greeting.slice(0, 80)}" is not * OK`);
      send('hc1 LOGOUT');
      for (;;) {
        const line = await lines.next();
        if (line.startsWith('* ')) continue;
        if (/^hc1 OK\b/i.test(line)) return;
        throw new CheckFailed(`LOGOUT: "${line.slice(0, 80)}" is not hc1 OK`);
      }
    }
    case 'http': {
      socket.write(`GET /healthz HTTP/1.1\r\nHost: ${target.hostname}\r\nUser-Agent: rookery-lb\r\nConnection: close\r\n\r\n`);
      const status = await lines.next();
      if (!/^HTTP\/1\.[01] 200\b/.test(status)) throw new CheckFailed(`GET /healthz: "${status.slice(0, 80)}" is not 200`);
      return;
    }
  }
}

/** Runs one check; never rejects. The timeout covers everything from connect to the last reply. */
export function runHealthCheck(target: CheckTarget, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let done = false;
    const sockets: Socket[] = [];
    const finish = (result: CheckResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const raw = netConnect({ host: target.address, port: target.port, ...(target.sourceAddress ? { localAddress: target.sourceAddress } : {}) });
    sockets.push(raw);
    raw.on('error', (e) => finish({ ok: false, reason: e.message }));
    raw.once('connect', () => {
      if (target.proxyProtocol) raw.write(encodeProxyV2Local());
      let socket: Socket = raw;
      if (target.tls) {
        // Checked for liveness, not identity: nodes may present a self-signed certificate.
        socket = tlsConnect({ socket: raw, rejectUnauthorized: false });
        sockets.push(socket);
        socket.on('error', (e) => finish({ ok: false, reason: `TLS: ${e.message}` }));
      }
      const lines = new LineSource(socket);
      dialogue(socket, lines, target).then(
        () => finish({ ok: true }),
        (e: Error) => finish({ ok: false, reason: e.message }),
      );
    });
  });
}
