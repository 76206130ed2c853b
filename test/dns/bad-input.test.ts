/**
 * Bad input over raw sockets: short and malformed messages, responses,
 * unsupported opcodes, oversized queries and TCP length prefixes, a flood
 * of garbage. Each gets a correct error answer or none, and the server
 * answers the next good query.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { nodeRegistration, startDnsFixture, type DnsFixture } from './harness.js';

function query(name: string, type: dnsPacket.RecordType = 'A', id = 4242): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

/** A raw question section: labels as given (bytes), then type and class. */
function rawQuestion(labels: Buffer[], type = 1, klass = 1): Buffer {
  const parts = labels.flatMap((l) => [Buffer.from([l.length]), l]);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(klass, 3);
  return Buffer.concat([...parts, tail]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + 2 * i));
  return b;
}

const rcodeOf = (msg: Buffer) => msg.readUInt16BE(2) & 0xf;

/** Sends one datagram; resolves with the answer, or null if none came within waitMs. */
function udp(port: number, message: Buffer, waitMs = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, waitMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(message, port, '127.0.0.1');
  });
}

/** A TCP connection that collects length-framed answers and notices when the server closes it. */
class TcpClient {
  readonly answers: Buffer[] = [];
  closed = false;
  private buffered = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 2 && this.buffered.length >= 2 + this.buffered.readUInt16BE(0)) {
        this.answers.push(this.buffered.subarray(2, 2 + this.buffered.readUInt16BE(0)));
        this.buffered = this.buffered.subarray(2 + this.buffered.readUInt16BE(0));
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Waits until cond() holds or timeoutMs passes. */
  async until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  send(message: Buffer) {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(message.length);
    this.socket.write(Buffer.concat([prefix, message]));
  }
  close() {
    this.socket.destroy();
  }
}

describe('DNS bad input', () => {
  let f: DnsFixture;
  before(async () => {
    f = await startDnsFixture({
      members: [nodeRegistration('node1', '127.0.0.11')],
      server: { staleAfterMs: 60_000, limits: { maxQueryBytes: 1024, tcpIdleTimeoutMs: 400, maxTcpConnections: 4, maxTcpPipelinedQueries: 2 } },
    });
  });
  after(() => f.close());

  async function stillAnswers() {
    const answer = await udp(f.server.port, query('node1.example.test'), 2000);
    assert.ok(answer, 'the server still answers');
    assert.deepEqual(dnsPacket.decode(answer).answers!.map((a) => (a as { data?: unknown }).data), ['127.0.0.11']);
  }

  it('ignores datagrams shorter than a header, and responses', async () => {
    for (const length of [0, 1, 2, 11]) assert.equal(await udp(f.server.port, Buffer.alloc(length, 0xab), 150), null, `${length} bytes`);
    const response = query('node1.example.test');
    response.writeUInt16BE(0x8000, 2);
    assert.equal(await udp(f.server.port, response, 150), null, 'a response is never answered (no loops)');
    await stillAnswers();
  });

  it('answers FORMERR to malformed queries, with the id they carried', async () => {
    const cases: [string, Buffer][] = [
      ['header only', header(7, 0, [1, 0, 0, 0])],
      ['no question', header(7, 0, [0, 0, 0, 0])],
      ['two questions', Buffer.concat([header(7, 0, [2, 0, 0, 0]), rawQuestion([Buffer.from('a')]), rawQuestion([Buffer.from('b')])])],
      ['label past the end', Buffer.concat([header(7, 0, [1, 0, 0, 0]), Buffer.from([20, 0x61, 0x62])])],
      ['no type and class', Buffer.concat([header(7, 0, [1, 0, 0, 0]), Buffer.from([1, 0x61, 0, 0, 1])])],
      ['compression pointer in the question', Buffer.concat([header(7, 0, [1, 0, 0, 0]), Buffer.from([0xc0, 0x00, 0, 1, 0, 1])])],
      ['name over 255 bytes', Buffer.concat([header(7, 0, [1, 0, 0, 0]), rawQuestion(Array.from({ length: 5 }, () => Buffer.alloc(63, 0x61)))])],
      ['promised records missing', Buffer.concat([header(7, 0, [1, 0, 0, 3]), rawQuestion([Buffer.from('example'), Buffer.from('test')])])],
      ['two OPT records', Buffer.concat([header(7, 0, [1, 0, 0, 2]), rawQuestion([Buffer.from('test')]), Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0])])],
    ];
    for (const [what, message] of cases) {
      const answer = await udp(f.server.port, message);
      assert.ok(answer, `${what}: answered`);
      assert.equal(answer.readUInt16BE(0), 7, `${what}: id`);
      assert.equal(rcodeOf(answer), 1, `${what}: FORMERR`);
      assert.ok(answer.readUInt16BE(2) & 0x8000, `${what}: QR`);
    }
    await stillAnswers();
  });

  it('answers NOTIMP to opcodes other than QUERY', async () => {
    for (const opcode of [1, 2, 4, 5, 15]) {
      const message = query('example.test', 'SOA');
      message.writeUInt16BE(opcode << 11, 2);
      const answer = await udp(f.server.port, message);
      assert.ok(answer);
      assert.equal(rcodeOf(answer), 4, `opcode ${opcode}`);
      assert.equal((answer.readUInt16BE(2) >> 11) & 0xf, opcode, 'the opcode is copied');
    }
  });

  it('echoes the question byte for byte, odd labels and mixed case included', async () => {
    const odd = Buffer.concat([header(9, 0, [1, 0, 0, 0]), rawQuestion([Buffer.from('a.b'), Buffer.from([0xff, 0x00, 0x41]), Buffer.from('eXaMpLe'), Buffer.from('TEST')])]);
    const answer = await udp(f.server.port, odd);
    assert.ok(answer);
    assert.equal(rcodeOf(answer), 3, 'NXDOMAIN: inside example.test, but no such name');
    assert.deepEqual(answer.subarray(12, odd.length), odd.subarray(12), 'question echoed exactly');
    const outside = Buffer.concat([header(9, 0, [1, 0, 0, 0]), rawQuestion([Buffer.from('x.example'), Buffer.from('test')])]);
    assert.equal(rcodeOf((await udp(f.server.port, outside))!), 5, 'the label "x.example" under .test is not in example.test: REFUSED');
    const mixed = await udp(f.server.port, query('NoDe1.ExAmPlE.TeSt'));
    assert.equal(dnsPacket.decode(mixed!).questions![0]!.name, 'NoDe1.ExAmPlE.TeSt');
    assert.equal(dnsPacket.decode(mixed!).answers!.length, 1);
  });

  it('answers unknown types and classes without records, and drops oversized datagrams', async () => {
    const unknown = Buffer.concat([header(11, 0, [1, 0, 0, 0]), rawQuestion([Buffer.from('example'), Buffer.from('test')], 65280)]);
    const a = await udp(f.server.port, unknown);
    assert.equal(rcodeOf(a!), 0);
    assert.equal(dnsPacket.decode(a!).authorities![0]!.type, 'SOA', 'NODATA carries the SOA');
    const chaos = Buffer.concat([header(11, 0, [1, 0, 0, 0]), rawQuestion([Buffer.from('example'), Buffer.from('test')], 6, 3)]);
    assert.equal(rcodeOf((await udp(f.server.port, chaos))!), 5);
    const big = Buffer.concat([query('node1.example.test'), Buffer.alloc(2000)]);
    assert.equal(await udp(f.server.port, big, 200), null, 'over maxQueryBytes: dropped');
    await stillAnswers();
  });

  it('survives a flood of garbage datagrams', async () => {
    const s = createSocket('udp4');
    let answers = 0;
    s.on('message', () => answers++);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 3000; i++) {
      const message = Buffer.alloc(Math.floor(random() * 600));
      for (let j = 0; j < message.length; j++) message[j] = Math.floor(random() * 256);
      // Half of them look like queries so that they get past the header checks.
      if (i % 2 === 0 && message.length >= 12) message.writeUInt16BE(0x0100, 2);
      s.send(message, f.server.port, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    assert.ok(answers > 0, 'some garbage got error answers');
    await stillAnswers();
  });

  it('closes a TCP connection whose length prefix is too large or too small', async () => {
    for (const prefix of [0xffff, 1025, 5, 0]) {
      const c = await TcpClient.open(f.server.port);
      const b = Buffer.alloc(2);
      b.writeUInt16BE(prefix);
      c.socket.write(b);
      await c.until(() => c.closed);
      assert.ok(c.closed, `prefix ${prefix}: closed`);
      assert.equal(c.answers.length, 0);
    }
    await stillAnswers();
  });

  it('answers pipelined TCP queries in order, split or together, past the pipelining limit', async () => {
    const c = await TcpClient.open(f.server.port);
    const names = Array.from({ length: 10 }, (_, i) => (i % 2 ? 'node1.example.test' : `nosuch${i}.example.test`));
    const framed = Buffer.concat(names.map((n, i) => {
      const q = query(n, 'A', i);
      const p = Buffer.alloc(2);
      p.writeUInt16BE(q.length);
      return Buffer.concat([p, q]);
    }));
    // The first half byte by byte, the rest in one write.
    const half = Math.floor(framed.length / 2);
    for (let i = 0; i < half; i++) c.socket.write(framed.subarray(i, i + 1));
    c.socket.write(framed.subarray(half));
    await c.until(() => c.answers.length === 10);
    assert.deepEqual(c.answers.map((a) => a.readUInt16BE(0)), names.map((_, i) => i));
    assert.deepEqual(c.answers.map(rcodeOf), names.map((_, i) => (i % 2 ? 0 : 3)));
    c.send(header(77, 0, [1, 0, 0, 0]));
    await c.until(() => c.answers.length === 11);
    assert.equal(rcodeOf(c.answers[10]!), 1, 'FORMERR over TCP, and the connection stays');
    c.send(query('example.test', 'MX', 78));
    await c.until(() => c.answers.length === 12);
    assert.equal(dnsPacket.decode(c.answers[11]!).answers!.length, 1);
    c.close();
  });

  it('answers a query sent just before the client shuts its side', async () => {
    const c = await TcpClient.open(f.server.port);
    c.send(query('node1.example.test', 'A', 5));
    c.socket.end();
    await c.until(() => c.closed);
    assert.equal(c.answers.length, 1);
    assert.equal(c.answers[0]!.readUInt16BE(0), 5);
  });

  it('closes idle TCP connections and refuses more than maxTcpConnections', async () => {
    const idle = await TcpClient.open(f.server.port);
    const started = Date.now();
    await idle.until(() => idle.closed, 3000);
    assert.ok(idle.closed && Date.now() - started < 2000, 'closed after tcpIdleTimeoutMs');

    const held = await Promise.all(Array.from({ length: 4 }, () => TcpClient.open(f.server.port)));
    const extra = await TcpClient.open(f.server.port);
    await extra.until(() => extra.closed);
    assert.ok(extra.closed, 'the fifth connection is closed at once');
    held[0]!.send(query('node1.example.test', 'A', 3));
    await held[0]!.until(() => held[0]!.answers.length === 1);
    assert.equal(held[0]!.answers.length, 1, 'the others still work');
    for (const h of held) h.close();
    await stillAnswers();
  });
});
