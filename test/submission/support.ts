/**
 * A node with the MX and both submission services (587 with STARTTLS, 465
 * with implicit TLS) on free loopback ports over a fresh embedded store,
 * without queue workers, so what was queued stays in the queue to be
 * looked at. The store can be wrapped to inject failures.
 */
import { rm } from 'node:fs/promises';
import { openStore } from '../../src/store/open.js';
import { createSmtpService } from '../../src/protocols/smtp/index.js';
import { defaultLimits, type Limits } from '../../src/config/limits.js';
import { createLogger } from '../../src/log.js';
import type { NetService, ServiceContext } from '../../src/net/service.js';
import type { QueuedMessage, Store } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';
import { testTls } from '../smtp/support.js';

export interface SubmissionNode {
  store: Store;
  /** The MX (base+25). */
  mx: number;
  /** Submission with STARTTLS (base+587). */
  submission: number;
  /** Submission over implicit TLS (base+465). */
  submissions: number;
  close(): Promise<void>;
}

export async function startSubmissionNode(opts: {
  users?: Record<string, string>;
  domains?: string[];
  limits?: Partial<Limits>;
  wrap?: (store: Store) => Store;
  /** Peers whose connections start with a PROXY header. */
  trustedProxies?: ServiceContext['trustedProxies'];
} = {}): Promise<SubmissionNode> {
  const dir = await tempDir('rookery-submission-');
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  for (const d of opts.domains ?? []) await store.directory.addDomain(d);
  for (const [address, password] of Object.entries(opts.users ?? {})) await store.directory.addUser({ address, password });
  const material = await testTls();
  const ctx: ServiceContext = {
    store: opts.wrap ? opts.wrap(store) : store,
    limits: { ...defaultLimits(), ...opts.limits } as Limits,
    hostname: 'mx.example.test',
    tls: () => material,
    logger: createLogger('submission-test'),
    ...(opts.trustedProxies ? { trustedProxies: opts.trustedProxies } : {}),
  };
  const services: NetService[] = [
    createSmtpService(ctx, { mode: 'mx', implicitTls: false }),
    createSmtpService(ctx, { mode: 'submission', implicitTls: false }),
    createSmtpService(ctx, { mode: 'submission', implicitTls: true }),
  ];
  const [mx, submission, submissions] = await Promise.all(services.map((s) => s.listen(0, '127.0.0.1')));
  return {
    store,
    mx: mx!,
    submission: submission!,
    submissions: submissions!,
    async close() {
      await Promise.all(services.map((s) => s.close()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Everything in the queue, with the bytes of each message. */
export async function queued(store: Store): Promise<(QueuedMessage & { data: Buffer })[]> {
  const out = [];
  for (const m of await store.queue.list()) out.push({ ...m, data: await store.blobs.get(m.blobId) });
  return out;
}

/**
 * A python smtplib client: argv = mode (plain|starttls|ssl), port, user,
 * password ('' for no AUTH), envelope sender, recipients (comma-separated);
 * the message on stdin. Prints one JSON line: {"ok": refused-recipients}
 * or {"error": [code, text], "stage": ...}.
 */
export const SMTPLIB_SEND = `
import json, smtplib, ssl, sys
mode, port, user, password, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].split(',')
msg = sys.stdin.buffer.read()
ctx = ssl._create_unverified_context()
stage = 'connect'
try:
    if mode == 'ssl':
        s = smtplib.SMTP_SSL('127.0.0.1', port, local_hostname='client.test', context=ctx, timeout=30)
    else:
        s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=30)
    s.ehlo()
    if mode == 'starttls':
        s.starttls(context=ctx)
        s.ehlo()
    if user:
        stage = 'auth'
        s.login(user, password)
    stage = 'send'
    refused = s.sendmail(sender, rcpts, msg)
    print(json.dumps({'ok': {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
    s.quit()
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({'stage': stage, 'error': [list(e.recipients.values())[0][0], list(e.recipients.values())[0][1].decode()]}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({'stage': stage, 'error': [e.smtp_code, e.smtp_error.decode() if isinstance(e.smtp_error, bytes) else str(e.smtp_error)]}))
except smtplib.SMTPNotSupportedError as e:
    print(json.dumps({'stage': stage, 'error': [0, str(e)]}))
`;

export interface SendResult {
  ok?: Record<string, [number, string]>;
  error?: [number, string];
  stage?: string;
}
