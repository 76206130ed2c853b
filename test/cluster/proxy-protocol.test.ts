/**
 * Nodes believe a PROXY header only from a traffic manager in the
 * registry, from its source address: mail and POP3 sessions relayed by
 * `rookery lb --proxy-protocol` carry the real client's address (Received
 * header), clients reaching a node directly are unaffected, and a client
 * that sends a PROXY header itself is not believed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { rookery } from '../helpers/cli.js';
import { python } from '../helpers/clients.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { startLbProcess, type LbProcess } from '../helpers/lb-process.js';
import { freePortBaseOn } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';

const sendFrom = `
import smtplib, sys
host, port, source, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = smtplib.SMTP(host, port, timeout=10, source_address=(source, 0))
s.sendmail('friend@example.net', ['me@example.org'], f'Subject: {subject}\\r\\n\\r\\nbody\\r\\n')
s.quit()
`;

const popCount = `
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=10)
p.user('me@example.org'); p.pass_('secret')
print(p.stat()[0])
p.quit()
`;

/** The first line of the reply to one raw line sent on a fresh connection. */
function rawExchange(host: string, port: number, localAddress: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, localAddress });
    let data = '';
    let sent = false;
    socket.setTimeout(5000, () => reject(new Error(`no reply: ${data}`)));
    socket.on('data', (c: Buffer) => {
      data += c.toString();
      if (!sent && data.includes('\r\n')) {
        sent = true;
        data = '';
        socket.write(line);
      } else if (sent && data.includes('\r\n')) {
        socket.destroy();
        resolve(data.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
  });
}

test('the real client address crosses the traffic manager; only the registry\'s traffic managers are believed', async () => {
  const dir = await tempDir('rookery-proxy-');
  let node: NodeProcess | null = null;
  let lb: LbProcess | null = null;
  try {
    await rookery(['domain', 'add', 'example.org', '--store', dir]);
    await rookery(['user', 'add', 'me@example.org', '--password', 'secret', '--store', dir]);
    // Free on the node's address and the traffic manager's, heartbeat port (base + 694) included.
    const base = await freePortBaseOn(['127.0.0.11', '127.0.0.1'], [694]);
    node = await startNodeProcess(['--store', dir, '--address', '127.0.0.11', '--port-base', String(base), '--services', 'smtp,pop3', '--name', 'n1']);
    lb = await startLbProcess(['--store', dir, '--address', '127.0.0.1', '--port-base', String(base), '--services', 'smtp,pop3',
      '--proxy-protocol', '--source-address', '127.0.0.10', '--name', 'lb1']);

    // The pool fills from the registry once the health checks pass.
    let relayed = false;
    for (let i = 0; i < 50 && !relayed; i++) {
      relayed = await python(sendFrom, ['127.0.0.1', String(base + 25), '127.0.0.5', 'relayed']).then(() => true, () => false);
      if (!relayed) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(relayed, 'mail went through the traffic manager');
    await python(sendFrom, ['127.0.0.11', String(base + 25), '127.0.0.1', 'direct']);
    assert.equal((await python(popCount, ['127.0.0.1', String(base + 110)])).trim(), '2', 'POP3 through the traffic manager');

    const spoof = await rawExchange('127.0.0.11', base + 25, '127.0.0.6', 'PROXY TCP4 192.0.2.1 127.0.0.11 1234 25\r\n');
    assert.match(spoof, /^5\d\d /, 'a PROXY line from a client is an unknown command, not believed');

    const store = await openStore(dir);
    try {
      const user = (await store.directory.getUser('me@example.org'))!;
      const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
      const received = new Map<string, string>();
      for (const m of await store.mail.listMessages(inbox.id)) {
        const text = (await store.blobs.get(m.blobId)).toString();
        received.set(/^Subject: (\w+)/m.exec(text)![1]!, /^Received: .*$/m.exec(text)![0]);
      }
      assert.match(received.get('relayed')!, /\[127\.0\.0\.5\]/, 'the node saw the real client, not the traffic manager');
      assert.match(received.get('direct')!, /\[127\.0\.0\.1\]/);
    } finally {
      await store.close();
    }
  } finally {
    await lb?.stop();
    if (node) await stopNodeProcess(node);
    await rm(dir, { recursive: true, force: true });
  }
});
