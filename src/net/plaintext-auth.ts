/**
 * When a password may cross the wire: over TLS, or from a loopback address
 * (the machine itself), as Dovecot's disable_plaintext_auth allows. Every
 * protocol (SMTP submission, POP3, IMAP, the web) asks here, with the real
 * client's address (a trusted traffic manager's PROXY header names it).
 */
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/** Whether a plain-text login (password in the clear) is allowed on this connection. */
export function plaintextAuthAllowed(secure: boolean, clientAddress: string | undefined): boolean {
  return secure || isLoopbackAddress(clientAddress);
}
