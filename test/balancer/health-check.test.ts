/** Each health check dialogue against small scripted servers: what passes, what fails, and the timeout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { runHealthCheck, type CheckTarget } from '../../src/balancer/health-check.js';
import { selfSigned } from '../../src/net/tls.js';
import { parseProxyHeader } from '../../src/net/proxy-protocol.js';

/** A server that answers each received line from a script (line -> reply), after an opening greeting. */
async function scripted(greeting: string, replies: (line: string) => string | null, opts: { tls?: boolean; record?: Buffer[] } = {}) {
  const handler = (socket: Socket) => {
    socket.on('error', () => {});
    if (opts.record) socket.once('data', (c: Buffer) => opts.record!.push(c));
    if (greeting) socket.write(greeting);
    let buffered = '';
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      let lf: number;
      while ((lf = buffered.indexOf('\n')) >= 0) {
        const reply = replies(buffered.slice(0, lf).replace(/\r$/, ''));
        buffered = buffered.slice(lf + 1);
        if (reply !== null) socket.write(reply);
      }
    });
  };
  const server = opts.tls ? createTlsServer(await selfSigned('check.test'), handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

const target = (protocol: CheckTarget['protocol'], port: number, extra: Partial<CheckTarget> = {}): CheckTarget =>
  ({ address: '127.0.0.1', port, protocol, tls: false, proxyProtocol: false, hostname: 'lb.test', ...extra });

const smtpOk = (l: string) => (l.startsWith('EHLO') ? '250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n' : l === 'QUIT' ? '221 bye\r\n' : '500 ?\r\n');

test('SMTP: a multi-line greeting and EHLO pass; 421 or 554 fails', async () => {
  const good = await scripted('220-mx.example ESMTP\r\n220 ready\r\n', smtpOk);
  const busy = await scripted('421 4.3.2 store unreachable\r\n', smtpOk);
  const refusesEhlo = await scripted('220 mx\r\n', (l) => (l.startsWith('EHLO') ? '554 no\r\n' : '221 bye\r\n'));
  try {
    assert.deepEqual(await runHealthCheck(target('smtp', good.port), 2000), { ok: true });
    const b = await runHealthCheck(target('smtp', busy.port), 2000);
    assert.equal(b.ok, false);
    assert.match((b as { reason: string }).reason, /greeting: "421 4\.3\.2 store unreachable" instead of 220/);
    assert.match((await runHealthCheck(target('smtp', refusesEhlo.port), 2000) as { reason: string }).reason, /EHLO: "554 no"/);
  } finally {
    good.close(); busy.close(); refusesEhlo.close();
  }
});

test('POP3 and IMAP: +OK / * OK greetings pass; -ERR and * BYE fail', async () => {
  const pop = await scripted('+OK ready\r\n', (l) => (l === 'QUIT' ? '+OK bye\r\n' : '-ERR\r\n'));
  const popBad = await scripted('-ERR [SYS/TEMP] no store\r\n', () => null);
  const imap = await scripted('* OK [CAPABILITY IMAP4rev1] ready\r\n', (l) => (l === 'hc1 LOGOUT' ? '* BYE logging out\r\nhc1 OK LOGOUT completed\r\n' : null));
  const imapBye = await scripted('* BYE [UNAVAILABLE] no store\r\n', () => null);
  try {
    assert.deepEqual(await runHealthCheck(target('pop3', pop.port), 2000), { ok: true });
    assert.equal((await runHealthCheck(target('pop3', popBad.port), 2000)).ok, false);
    assert.deepEqual(await runHealthCheck(target('imap', imap.port), 2000), { ok: true });
    assert.match((await runHealthCheck(target('imap', imapBye.port), 2000) as { reason: string }).reason, /is not \* OK/);
  } finally {
    pop.close(); popBad.close(); imap.close(); imapBye.close();
  }
});

test('HTTP: GET /healthz 200 passes, 503 fails', async () => {
  const seen: string[] = [];
  const ok = await scripted('', (l) => { seen.push(l); return l === '' ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' : null; });
  const sick = await scripted('', (l) => (l === '' ? 'HTTP/1.1 503 Unavailable\r\n\r\n' : null));
  try {
    assert.deepEqual(await runHealthCheck(target('http', ok.port), 2000), { ok: true });
    assert.equal(seen[0], 'GET /healthz HTTP/1.1');
    assert.ok(seen.includes('Host: lb.test'));
    assert.equal((await runHealthCheck(target('http', sick.port), 2000)).ok, false);
  } finally {
    ok.close(); sick.close();
  }
});

test('TLS services: the handshake comes first, then the same dialogue', async () => {
  const tls = await scripted('+OK secure\r\n', (l) => (l === 'QUIT' ? '+OK bye\r\n' : null), { tls: true });
  try {
    assert.deepEqual(await runHealthCheck(target('pop3', tls.port, { tls: true }), 3000), { ok: true });
    assert.equal((await runHealthCheck(target('pop3', tls.port), 1000)).ok, false, 'plaintext to a TLS port fails');
  } finally {
    tls.close();
  }
});

test('a silent server fails by the timeout; a refused port fails at once; PROXY checks open with LOCAL', async () => {
  const silent = await scripted('', () => null);
  const record: Buffer[] = [];
  const proxied = await scripted('', () => null, { record });
  try {
    const started = Date.now();
    const r = await runHealthCheck(target('smtp', silent.port), 300);
    assert.deepEqual(r, { ok: false, reason: 'no answer within 300 ms' });
    assert.ok(Date.now() - started < 2000);
    const refused = await runHealthCheck(target('smtp', 1), 2000);
    assert.equal(refused.ok, false);
    assert.match((refused as { reason: string }).reason, /ECONNREFUSED/);
    await runHealthCheck(target('smtp', proxied.port, { proxyProtocol: true }), 300);
    const h = parseProxyHeader(record[0]!);
    assert.equal(h.kind === 'header' && h.header.command, 'local');
  } finally {
    silent.close(); proxied.close();
  }
});
