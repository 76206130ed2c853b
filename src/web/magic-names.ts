/**
 * The webmail "magic names" (an option: `rookery config set
 * limits.webMagicNames on`): a browser that asks any node for
 * webmail.DOMAIN is sent (302) to webmailNN.DOMAIN, the name of the node
 * that answered (NN: the digits its name ends in, as the DNS server
 * publishes them, src/dns/records.ts), and stays on that node from then on.
 * Sessions are valid on every node anyway; this is for operators who want
 * node affinity (one node's caches warm for one user).
 *
 * Only pages are redirected: the API, /healthz and /metrics answer under
 * any name (a script would not follow the redirect, and need not).
 */
import type { IncomingMessage } from 'node:http';
import { webmailLabel } from '../store/rules.js';

export interface MagicRedirect {
  status: 302 | 307;
  location: string;
}

/** Where to send a request for webmail.DOMAIN; null when it asks for anything else (its own webmailNN name included). */
export function magicNameRedirect(req: IncomingMessage, url: URL, nodeName: string, secure: boolean): MagicRedirect | null {
  if (url.pathname === '/healthz' || url.pathname === '/metrics' || url.pathname === '/api' || url.pathname.startsWith('/api/')) return null;
  const host = (req.headers.host ?? '').toLowerCase();
  const m = /^webmail\.([a-z0-9-]+(?:\.[a-z0-9-]+)*\.?)(:\d{1,5})?$/.exec(host);
  if (!m) return null;
  const label = webmailLabel(nodeName);
  if (label === null) return null;
  const domain = m[1]!.replace(/\.$/, '');
  return {
    // 302 turns a POST into a GET; 307 keeps the method and body of anything but GET and HEAD.
    status: req.method === 'GET' || req.method === 'HEAD' ? 302 : 307,
    location: `${secure ? 'https' : 'http'}://${label}.${domain}${m[2] ?? ''}${url.pathname}${url.search}`,
  };
}
