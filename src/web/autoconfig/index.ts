/**
 * Client autoconfiguration, so a user types an address and a password and
 * the mail app finds the servers:
 *
 *   GET  /.well-known/autoconfig/mail/config-v1.1.xml   Thunderbird (and K-9, FairEmail, Evolution)
 *   GET  /mail/config-v1.1.xml                          the same, asked of autoconfig.DOMAIN
 *   POST /autodiscover/autodiscover.xml                 Microsoft Outlook ("outlook" response schema)
 *   the Apple configuration profile                     built here, downloaded from /settings (selfcare)
 *
 * The servers named are this node's public host name with the ports the
 * cluster's nodes registered (base + the standard port in a running
 * cluster), so what a client is told is what actually answers. Only domains
 * the directory serves get an answer; any other gets 404, so the node does
 * not describe mail service for names it does not host.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { ServiceName } from '../../config/services.js';
import type { Store } from '../../store/types.js';

export interface AutoconfigOptions {
  store: Store;
  /** The host name clients are told to connect to (the node's public name). */
  hostname: string;
  /** This node's name in the registry, whose ports come first. */
  nodeName: string;
  logger: Logger;
}

/** One server a client may use. */
export interface MailServer {
  protocol: 'imap' | 'pop3' | 'smtp';
  hostname: string;
  port: number;
  /** 'SSL': TLS from the first byte; 'STARTTLS': upgraded on the plain port. */
  socketType: 'SSL' | 'STARTTLS';
}

/** Autodiscover requests are a few hundred bytes; anything past this is refused. */
export const maxAutodiscoverRequestBytes = 16 * 1024;

const thunderbirdPaths = new Set(['/.well-known/autoconfig/mail/config-v1.1.xml', '/mail/config-v1.1.xml']);
const autodiscoverPath = '/autodiscover/autodiscover.xml';

/** The servers, most preferred first within each protocol (implicit TLS before STARTTLS, RFC 8314). */
const serverOrder: { service: ServiceName; protocol: MailServer['protocol']; socketType: MailServer['socketType'] }[] = [
  { service: 'imaps', protocol: 'imap', socketType: 'SSL' },
  { service: 'imap', protocol: 'imap', socketType: 'STARTTLS' },
  { service: 'pop3s', protocol: 'pop3', socketType: 'SSL' },
  { service: 'pop3', protocol: 'pop3', socketType: 'STARTTLS' },
  { service: 'submissions', protocol: 'smtp', socketType: 'SSL' },
  { service: 'submission', protocol: 'smtp', socketType: 'STARTTLS' },
];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The domain part of an address, lower-cased, or null if it is not an address. */
function domainOfAddress(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  return /^[a-z0-9.-]+$/.test(domain) ? domain : null;
}

export interface Autoconfig {
  /** Answers Thunderbird autoconfig and Autodiscover requests; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** The servers clients are told about, read from the registry now. */
  servers(): Promise<MailServer[]>;
  /** An unsigned Apple configuration profile (.mobileconfig) for one user's mail account; no password inside. */
  appleProfile(address: string): Promise<Buffer>;
}

export function createAutoconfig(opts: AutoconfigOptions): Autoconfig {
  const { store, logger } = opts;

  const servers = async (): Promise<MailServer[]> => {
    const members = (await store.cluster.list()).filter((m) => m.role === 'node');
    // This node first, then the others that are up: in a cluster all listen on the same base.
    members.sort((a, b) => Number(b.name === opts.nodeName) - Number(a.name === opts.nodeName) || Number(b.state === 'up') - Number(a.state === 'up'));
    const out: MailServer[] = [];
    for (const s of serverOrder) {
      const port = members.map((m) => m.services[s.service]?.port).find((p): p is number => typeof p === 'number' && p > 0);
      if (port !== undefined) out.push({ protocol: s.protocol, hostname: opts.hostname, port, socketType: s.socketType });
    }
    return out;
  };

  const served = async (domain: string | null): Promise<boolean> => domain !== null && (await store.directory.isLocalDomain(domain));

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'", ...extra });
    res.end(body);
  };
  const notServed = (res: ServerResponse, what: string): void => send(res, 404, 'text/plain; charset=utf-8', `${what}\n`);

  const thunderbird = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    // Thunderbird names the address in the query; a bare request names the domain by the host it asked.
    const given = url.searchParams.get('emailaddress');
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[.*\]$/, '').toLowerCase();
    const domain = given ? domainOfAddress(given) : host.startsWith('autoconfig.') ? host.slice('autoconfig.'.length) : host || null;
    if (!(await served(domain))) return notServed(res, `This server does not serve mail for ${domain ?? 'that name'}.`);
    send(res, 200, 'application/xml; charset=utf-8', thunderbirdXml(domain!, await servers()));
  };

  const autodiscover = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', 'Autodiscover requests are POSTed XML.\n', { Allow: 'POST' });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxAutodiscoverRequestBytes) {
      req.resume();
      return send(res, 413, 'text/plain; charset=utf-8', `An Autodiscover request has at most ${maxAutodiscoverRequestBytes} bytes.\n`, { Connection: 'close' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxAutodiscoverRequestBytes) {
        req.resume();
        return send(res, 413, 'text/plain; charset=utf-8', `An Autodiscover request has at most ${maxAutodiscoverRequestBytes} bytes.\n`, { Connection: 'close' });
      }
      chunks.push(chunk);
    }
    const address = emailAddressOf(Buffer.concat(chunks).toString('utf8'));
    if (!address) return send(res, 400, 'text/plain; charset=utf-8', 'The request has no <EMailAddress> with an address in it.\n');
    if (!(await served(domainOfAddress(address)))) return notServed(res, `This server does not serve mail for ${domainOfAddress(address)}.`);
    logger.debug({ address }, 'autodiscover');
    send(res, 200, 'application/xml; charset=utf-8', autodiscoverXml(address, await servers()));
  };

  return {
    servers,
    async handle(req, res, url) {
      if (thunderbirdPaths.has(url.pathname)) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          send(res, 405, 'text/plain; charset=utf-8', 'Autoconfig is read with GET.\n', { Allow: 'GET, HEAD' });
          return true;
        }
        await thunderbird(req, res, url);
        return true;
      }
      if (url.pathname.toLowerCase() === autodiscoverPath) {
        await autodiscover(req, res);
        return true;
      }
      return false;
    },
    async appleProfile(address) {
      return Buffer.from(appleProfileXml(address, await servers()), 'utf8');
    },
  };
}

/** The EMailAddress of an Autodiscover request (the request schema has exactly one). */
export function emailAddressOf(xml: string): string | null {
  const m = /<(?:[A-Za-z0-9_]+:)?EMailAddress\b[^>]*>\s*([^<\s]{3,320})\s*<\/(?:[A-Za-z0-9_]+:)?EMailAddress>/.exec(xml);
  if (!m) return null;
  const value = m[1]!.replace(/&amp;/g, '&');
  return /^[^@\s<>"]+@[A-Za-z0-9.-]+$/.test(value) ? value : null;
}

/** Thunderbird's config-v1.1.xml (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat). */
export function thunderbirdXml(domain: string, list: readonly MailServer[]): string {
  const server = (s: MailServer): string => {
    const tag = s.protocol === 'smtp' ? 'outgoingServer' : 'incomingServer';
    return `    <${tag} type="${s.protocol}">
      <hostname>${escapeXml(s.hostname)}</hostname>
      <port>${s.port}</port>
      <socketType>${s.socketType}</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </${tag}>`;
  };
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${escapeXml(domain)}">
    <domain>${escapeXml(domain)}</domain>
    <displayName>${escapeXml(domain)} mail</displayName>
    <displayShortName>${escapeXml(domain)}</displayShortName>
${list.filter((s) => s.protocol !== 'smtp').map(server).join('\n')}
${list.filter((s) => s.protocol === 'smtp').map(server).join('\n')}
  </emailProvider>
</clientConfig>
`;
}

/** The Autodiscover answer in the "outlook" response schema (POX, [MS-OXDSCLI]): implicit TLS where there is a choice. */
export function autodiscoverXml(address: string, list: readonly MailServer[]): string {
  const pick = (protocol: MailServer['protocol']): MailServer | undefined =>
    list.find((s) => s.protocol === protocol && s.socketType === 'SSL') ?? list.find((s) => s.protocol === protocol);
  const protocols = (['imap', 'pop3', 'smtp'] as const).map(pick).filter((s): s is MailServer => s !== undefined).map((s) => `      <Protocol>
        <Type>${s.protocol.toUpperCase()}</Type>
        <Server>${escapeXml(s.hostname)}</Server>
        <Port>${s.port}</Port>
        <DomainRequired>off</DomainRequired>
        <LoginName>${escapeXml(address)}</LoginName>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <Encryption>${s.socketType === 'SSL' ? 'SSL' : 'TLS'}</Encryption>
        <AuthRequired>on</AuthRequired>${s.protocol === 'smtp' ? '\n        <UsePOPAuth>on</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>' : ''}
      </Protocol>`);
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User>
      <DisplayName>${escapeXml(address)}</DisplayName>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${protocols.join('\n')}
    </Account>
  </Response>
</Autodiscover>
`;
}

/** A stable UUID from text (the same profile installed twice replaces itself). */
function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text, 'utf8').digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** The Apple profile: one com.apple.mail.managed payload (IMAP over TLS, submission over TLS), unsigned, no password. */
export function appleProfileXml(address: string, list: readonly MailServer[]): string {
  const pick = (protocol: MailServer['protocol']): MailServer | undefined =>
    list.find((s) => s.protocol === protocol && s.socketType === 'SSL') ?? list.find((s) => s.protocol === protocol);
  const incoming = pick('imap');
  const outgoing = pick('smtp');
  if (!incoming || !outgoing) throw new Error('no IMAP or submission service is registered in the cluster');
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  const reverse = domain.split('.').reverse().join('.');
  const s = (v: string): string => `<string>${escapeXml(v)}</string>`;
  const b = (v: boolean): string => (v ? '<true/>' : '<false/>');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key>${s('com.apple.mail.managed')}
      <key>PayloadVersion</key><integer>1</integer>
      <key>PayloadIdentifier</key>${s(`${reverse}.mail.${address.toLowerCase()}.account`)}
      <key>PayloadUUID</key>${s(uuidFrom(`account ${address.toLowerCase()}`))}
      <key>PayloadDisplayName</key>${s(address)}
      <key>EmailAccountDescription</key>${s(address)}
      <key>EmailAccountType</key>${s('EmailTypeIMAP')}
      <key>EmailAddress</key>${s(address)}
      <key>IncomingMailServerHostName</key>${s(incoming.hostname)}
      <key>IncomingMailServerPortNumber</key><integer>${incoming.port}</integer>
      <key>IncomingMailServerUseSSL</key>${b(true)}
      <key>IncomingMailServerAuthentication</key>${s('EmailAuthPassword')}
      <key>IncomingMailServerUsername</key>${s(address)}
      <key>OutgoingMailServerHostName</key>${s(outgoing.hostname)}
      <key>OutgoingMailServerPortNumber</key><integer>${outgoing.port}</integer>
      <key>OutgoingMailServerUseSSL</key>${b(true)}
      <key>OutgoingMailServerAuthentication</key>${s('EmailAuthPassword')}
      <key>OutgoingMailServerUsername</key>${s(address)}
      <key>OutgoingPasswordSameAsIncomingPassword</key>${b(true)}
    </dict>
  </array>
  <key>PayloadType</key>${s('Configuration')}
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key>${s(`${reverse}.mail.${address.toLowerCase()}`)}
  <key>PayloadUUID</key>${s(uuidFrom(`profile ${address.toLowerCase()}`))}
  <key>PayloadDisplayName</key>${s(`Mail at ${domain}`)}
  <key>PayloadDescription</key>${s(`Sets up ${address} in Mail. The password is asked for when it is installed.`)}
  <key>PayloadOrganization</key>${s(domain)}
  <key>PayloadRemovalDisallowed</key>${b(false)}
</dict>
</plist>
`;
}
