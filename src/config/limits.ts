/**
 * Every protocol limit in one schema: a name with its unit, a default and a
 * sentence. Operators override them cluster-wide with
 * `rookery config set limits.NAME VALUE` (kept in the store's settings), so
 * every node enforces the same numbers.
 */

export interface LimitSpec {
  default: number | string;
  /** For string limits, the values allowed. */
  choices?: readonly string[];
  description: string;
}

export const limitSpecs = {
  maxMessageBytes: {
    default: 25 * 1024 * 1024,
    description: 'Largest message accepted over SMTP (announced in EHLO SIZE; 552 above it).',
  },
  maxRecipients: {
    default: 100,
    description: 'Recipients accepted in one SMTP transaction (452 4.5.3 above it).',
  },
  maxSmtpLineBytes: {
    default: 4096,
    description: 'Longest SMTP command line; a longer one is refused with 500 5.5.2 and the connection is closed.',
  },
  maxSmtpBadCommands: {
    default: 10,
    description: 'Unknown or malformed SMTP commands before the connection is closed with 421.',
  },
  smtpIdleTimeoutMs: {
    default: 5 * 60 * 1000,
    description: 'SMTP connection closed with 421 after this much silence (RFC 5321 4.5.3.2 asks for 5 minutes).',
  },
  smtpGreetingDelayMs: {
    default: 0,
    description: 'Wait before the 220 greeting; a client that talks first gets 421 (a spam-bot test, like sendmail\'s greet_pause). 0 greets at once, as Postfix\'s smtpd does.',
  },
  maxReceivedHeaders: {
    default: 50,
    description: 'A message with more Received headers than this is refused as a mail loop (554 5.4.6).',
  },
  bareLineEndings: {
    default: 'normalise',
    choices: ['normalise', 'reject'] as const,
    description: 'Bare CR or LF in a message body: rewrite to CRLF, or refuse the message with 554 5.6.0.',
  },
  quotaExceeded: {
    default: 'temporary',
    choices: ['temporary', 'permanent'] as const,
    description: 'A recipient over quota gets 452 4.2.2 (temporary, the sender retries) or 552 5.2.2 (permanent).',
  },
  maxPop3LineBytes: {
    default: 512,
    description: 'Longest POP3 command line (RFC 2449 allows 255 octets); longer gets -ERR and is discarded.',
  },
  pop3IdleTimeoutMs: {
    default: 10 * 60 * 1000,
    description: 'POP3 connection closed after this much silence (RFC 1939 asks for at least 10 minutes).',
  },
  maxPop3BadCommands: {
    default: 20,
    description: 'Unknown or malformed POP3 commands before the connection is closed.',
  },
  maxImapLineBytes: {
    default: 64 * 1024,
    description: 'Longest IMAP command line, literals excluded (RFC 7162 asks for at least 8192); longer gets BAD [TOOBIG].',
  },
  maxImapLiteralBytes: {
    default: 25 * 1024 * 1024,
    description: 'Largest IMAP literal, and so the largest APPEND (announced as APPENDLIMIT); larger gets NO [TOOBIG].',
  },
  maxImapPreLoginLiteralBytes: {
    default: 8192,
    description: 'Largest literal accepted before login, so an anonymous client cannot make the server buffer much.',
  },
  maxImapBadCommands: {
    default: 20,
    description: 'Unknown or malformed IMAP commands in a row before the connection is closed with BYE.',
  },
  imapIdleTimeoutMs: {
    default: 30 * 60 * 1000,
    description: 'IMAP connection closed after this much silence (RFC 3501 5.4 asks for at least 30 minutes).',
  },
  imapChangePollMs: {
    default: 250,
    description: 'How often IMAP IDLE polls a store that has no change feed for changes made by other nodes (both built-in stores push changes instead).',
  },
  maxAuthFailures: {
    default: 3,
    description: 'Failed logins on one connection before it is closed.',
  },
  maildropLeaseMs: {
    default: 60 * 1000,
    description: 'How long a POP3 maildrop lock outlives a node that died holding it.',
  },
  maxConnectionsPerIp: {
    default: 50,
    description: 'Simultaneous connections from one client address, per service and node.',
  },
  queuePollMs: {
    default: 1000,
    description: 'How often each node\'s queue worker looks for due mail (ETRN and new mail are also noticed through the change feed when there is one).',
  },
  queueLeaseMs: {
    default: 60 * 1000,
    description: 'How long a queue worker\'s claim on a recipient lasts unless renewed; after a node dies, its mail waits this long before another node takes it over.',
  },
  queueFirstRetryMs: {
    default: 5 * 60 * 1000,
    description: 'Wait after the first failed attempt; each further failure doubles the wait (exponential backoff).',
  },
  queueMaxRetryMs: {
    default: 60 * 60 * 1000,
    description: 'The longest wait between two attempts, however many have failed.',
  },
  queueLifetimeMs: {
    default: 5 * 24 * 60 * 60 * 1000,
    description: 'How long a message is retried before it is bounced to its sender.',
  },
  queueDelayWarningMs: {
    default: 4 * 60 * 60 * 1000,
    description: 'After this long in the queue the sender gets one delay warning (a DSN with Action: delayed).',
  },
  queueMaxConnections: {
    default: 20,
    description: 'Outgoing SMTP connections one node\'s queue worker keeps open at once.',
  },
  queueMaxConnectionsPerDestination: {
    default: 4,
    description: 'Outgoing SMTP connections one node keeps open at once to one destination domain.',
  },
  queueMaxMessagesPerConnection: {
    default: 100,
    description: 'Messages sent over one outgoing SMTP connection before it is closed (connection reuse).',
  },
  outboundConnectTimeoutMs: {
    default: 30 * 1000,
    description: 'Time to connect to a remote SMTP server and get its greeting before the next address is tried.',
  },
  outboundCommandTimeoutMs: {
    default: 5 * 60 * 1000,
    description: 'Silence from a remote SMTP server, after any command or the message, before the attempt is given up (RFC 5321 4.5.3.2).',
  },
} satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof limitSpecs;

export interface Limits {
  maxMessageBytes: number;
  maxRecipients: number;
  maxSmtpLineBytes: number;
  maxSmtpBadCommands: number;
  smtpIdleTimeoutMs: number;
  smtpGreetingDelayMs: number;
  maxReceivedHeaders: number;
  bareLineEndings: 'normalise' | 'reject';
  quotaExceeded: 'temporary' | 'permanent';
  maxPop3LineBytes: number;
  pop3IdleTimeoutMs: number;
  maxPop3BadCommands: number;
  maxImapLineBytes: number;
  maxImapLiteralBytes: number;
  maxImapPreLoginLiteralBytes: number;
  maxImapBadCommands: number;
  imapIdleTimeoutMs: number;
  imapChangePollMs: number;
  maxAuthFailures: number;
  maildropLeaseMs: number;
  maxConnectionsPerIp: number;
  queuePollMs: number;
  queueLeaseMs: number;
  queueFirstRetryMs: number;
  queueMaxRetryMs: number;
  queueLifetimeMs: number;
  queueDelayWarningMs: number;
  queueMaxConnections: number;
  queueMaxConnectionsPerDestination: number;
  queueMaxMessagesPerConnection: number;
  outboundConnectTimeoutMs: number;
  outboundCommandTimeoutMs: number;
}

export function defaultLimits(): Limits {
  const out: Record<string, number | string> = {};
  for (const [name, spec] of Object.entries(limitSpecs)) out[name] = spec.default;
  return out as unknown as Limits;
}

/** Parses one limit value; throws an Error with a sentence for the operator. */
export function parseLimit(name: string, raw: string): number | string {
  const spec = (limitSpecs as Record<string, LimitSpec>)[name];
  if (!spec) throw new Error(`unknown limit "${name}"; known limits: ${Object.keys(limitSpecs).join(', ')}`);
  if (spec.choices) {
    if (!spec.choices.includes(raw)) throw new Error(`limit ${name} must be one of ${spec.choices.join(', ')}`);
    return raw;
  }
  const n = Number(raw);
  const min = typeof spec.default === 'number' && spec.default === 0 ? 0 : 1;
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`limit ${name} must be a ${min === 0 ? 'non-negative' : 'positive'} whole number, not "${raw}"`);
  return n;
}

/** Defaults overlaid with the store's `limits.*` settings. */
export function limitsFromSettings(settings: Record<string, string>): Limits {
  const limits = defaultLimits() as unknown as Record<string, number | string>;
  for (const [key, value] of Object.entries(settings)) {
    if (!key.startsWith('limits.')) continue;
    const name = key.slice('limits.'.length);
    if (!(name in limitSpecs)) continue; // a newer node's setting; ignore rather than refuse to start
    limits[name] = parseLimit(name, value);
  }
  return limits as unknown as Limits;
}
