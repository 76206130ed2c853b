/**
 * Real Rookery nodes (child processes) behind the traffic manager, judged by
 * Python's smtplib and poplib: mail sent through the virtual SMTP port is
 * spread over both nodes and read back through POP3 over TLS (passed
 * through untouched); a node killed with SIGKILL costs the clients nothing
 * and is out of the pool within 3 seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { rookery } from '../helpers/cli.js';
import { python } from '../helpers/clients.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBase } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';
import { backendUp, randomLoopback, startTestLb, waitFor } from './helpers.js';
import { openStore } from '../../src/store/open.js';

const send = `
import smtplib, sys
host, port, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(first, first + count):
    s = smtplib.SMTP(host, port, timeout=10)
    code, banner = s.ehlo()
    assert code == 250, (code, banner)
    print(banner.decode().split()[0])
    s.sendmail('friend@example.net', ['me@example.org'], f'Subject: through the lb {i}\\r\\n\\r\\nbody {i}\\r\\n')
    s.quit()
`;

const count = `
import poplib, ssl, sys
p = poplib.POP3_SSL(sys.argv[1], int(sys.argv[2]), context=ssl._create_unverified_context(), timeout=10)
p.user('me@example.org'); p.pass_('secret')
subjects = []
for i in range(1, p.stat()[0] + 1):
    lines = p.retr(i)[1]
    subjects += [l.decode() for l in lines if l.startswith(b'Subject:')]
p.quit()
print('\\n'.join(sorted(subjects)))
`;

test('two real nodes behind the traffic manager: smtplib in, poplib over TLS out, one node killed', async () => {
  const dir = await tempDir('rookery-lb-nodes-');
  const nodes: NodeProcess[] = [];
  const store = await openStore(dir);
  let lb;
  try {
    assert.equal((await rookery(['domain', 'add', 'example.org', '--store', dir])).code, 0);
    assert.equal((await rookery(['user', 'add', 'me@example.org', '--password', 'secret', '--store', dir])).code, 0);
    const servers: string[] = [];
    for (const name of ['n1', 'n2']) {
      const address = randomLoopback();
      const base = await freePortBase(address);
      nodes.push(await startNodeProcess(['--store', dir, '--address', address, '--port-base', String(base), '--services', 'smtp,pop3,pop3s', '--name', name]));
      servers.push(`server ${name} ${address} port-base ${base}`);
    }
    lb = await startTestLb(`check-interval-ms 500\nfall 2\n${servers.join('\n')}\npool nodes\n  add n1 smtp/1 pop3/1 pop3s/1\n  add n2 smtp/1 pop3/1 pop3s/1\nend\n`, ['smtp', 'pop3', 'pop3s'], { store });

    const banners = (await python(send, [lb.host, String(lb.port('smtp')), '1', '6'])).trim().split('\n');
    assert.equal(banners.length, 6);
    assert.deepEqual([...new Set(banners)].sort(), ['n1', 'n2'], 'both nodes took mail');

    nodes[0]!.child.kill('SIGKILL');
    const killedAt = Date.now();
    // Sent right away: the dead node refuses and is skipped; no client sees it.
    const after = (await python(send, [lb.host, String(lb.port('smtp')), '7', '6'])).trim().split('\n');
    assert.deepEqual([...new Set(after)], ['n2']);
    await waitFor(() => backendUp(lb!, 'smtp', 'n1') === false && backendUp(lb!, 'pop3s', 'n1') === false, Math.max(0, 3000 - (Date.now() - killedAt)), 'the killed node is still in the pools 3 s later');

    const subjects = (await python(count, [lb.host, String(lb.port('pop3s'))])).trim().split('\n');
    assert.deepEqual(subjects, Array.from({ length: 12 }, (_, i) => `Subject: through the lb ${i + 1}`).sort());
  } finally {
    await lb?.balancer.stop();
    for (const n of nodes) await stopNodeProcess(n);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
