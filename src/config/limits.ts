/**
 * Every protocol limit in one schema: a name with its unit, a default and a
 * sentence. Operators override them cluster-wide with
 * `rookery config set limits.NAME VALUE` (kept in the store's settings), so
 * every node enforces the same numbers. Running nodes take a change at once
 * (for sessions that start from then on), except the few marked atRestart,
 * which they read when they start.
 */

export interface LimitSpec {
  default: number | string;
  /** For string limits, the values allowed. */
  choices?: readonly string[];
  /** The smallest value allowed (whole numbers); 1, or 0 where the default is 0, unless given. */
  min?: number;
  /** Read by a node when it starts (the queue worker's timers and leases), not while it runs. */
  atRestart?: true;
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
    atRestart: true,
    default: 250,
    description: 'How often IMAP IDLE polls a store that has no change feed for changes made by other nodes (both built-in stores push changes instead).',
  },
  maxAuthFailures: {
    default: 3,
    description: 'Failed logins on one connection before it is closed.',
  },
  loginFailureDelayMs: {
    default: 300,
    description: 'Delay before answering a failed IMAP, POP3 or SMTP login (HTTP answers at once and relies on the refusal); doubled for each recent failure of the same client address or account.',
  },
  maxLoginFailureDelayMs: {
    default: 2000,
    description: 'The longest delay before answering a failed login, however many came before.',
  },
  loginFailureMemoryMs: {
    default: 15 * 60 * 1000,
    description: 'How long a failed login counts against its client address and account (cluster-wide, in the store); a refused address waits this long after its last failure.',
  },
  maxLoginFailuresPerAddress: {
    default: 20,
    description: 'Recent failed logins from one client address, over every protocol and node, before every login from it is refused for a while (IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP], SMTP 454 4.7.0, HTTP 429).',
  },
  maxLoginFailuresPerAccount: {
    default: 50,
    description: 'Recent failed logins on one account before it is refused to client addresses that have failed themselves (an address with a clean record still gets in, so a guesser cannot lock the owner out).',
  },
  webMagicNames: {
    default: 'off',
    choices: ['off', 'on'] as const,
    description: 'on: a web request for webmail.DOMAIN is redirected (302) to webmailNN.DOMAIN, the node that answered (NN from its name), for operators who want each browser to stay on one node; each node answers its own webmailNN name.',
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
    atRestart: true,
    default: 1000,
    description: 'How often each node\'s queue worker looks for due mail (ETRN and new mail are also noticed through the change feed when there is one).',
  },
  queueLeaseMs: {
    atRestart: true,
    default: 60 * 1000,
    description: 'How long a queue worker\'s claim on a recipient lasts unless renewed; after a node dies, its mail waits this long before another node takes it over.',
  },
  queueFirstRetryMs: {
    atRestart: true,
    default: 5 * 60 * 1000,
    description: 'Wait after the first failed attempt; each further failure doubles the wait (exponential backoff).',
  },
  queueMaxRetryMs: {
    atRestart: true,
    default: 60 * 60 * 1000,
    description: 'The longest wait between two attempts, however many have failed.',
  },
  queueLifetimeMs: {
    atRestart: true,
    default: 5 * 24 * 60 * 60 * 1000,
    description: 'How long a message is retried before it is bounced to its sender.',
  },
  queueDelayWarningMs: {
    atRestart: true,
    default: 4 * 60 * 60 * 1000,
    description: 'After this long in the queue the sender gets one delay warning (a DSN with Action: delayed).',
  },
  queueMaxConnections: {
    atRestart: true,
    default: 20,
    description: 'Outgoing SMTP connections one node\'s queue worker keeps open at once.',
  },
  queueMaxConnectionsPerDestination: {
    atRestart: true,
    default: 4,
    description: 'Outgoing SMTP connections one node keeps open at once to one destination domain.',
  },
  queueMaxMessagesPerConnection: {
    atRestart: true,
    default: 100,
    description: 'Messages sent over one outgoing SMTP connection before it is closed (connection reuse).',
  },
  outboundConnectTimeoutMs: {
    atRestart: true,
    default: 30 * 1000,
    description: 'Time to connect to a remote SMTP server and get its greeting before the next address is tried.',
  },
  outboundCommandTimeoutMs: {
    atRestart: true,
    default: 5 * 60 * 1000,
    description: 'Silence from a remote SMTP server, after any command or the message, before the attempt is given up (RFC 5321 4.5.3.2).',
  },
  blobCollectionHours: {
    default: 24,
    min: 0,
    description: 'How often one node of the cluster deletes message bodies nothing refers to any more (as `rookery store gc` does); 0: never (run that command from cron instead).',
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
  loginFailureDelayMs: number;
  maxLoginFailureDelayMs: number;
  loginFailureMemoryMs: number;
  maxLoginFailuresPerAddress: number;
  maxLoginFailuresPerAccount: number;
  webMagicNames: 'off' | 'on';
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
  blobCollectionHours: number;
}

export function defaultLimits(): Limits {
  const out: Record<string, number | string> = {};
  for (const [name, spec] of Object.entries(limitSpecs)) out[name] = spec.default;
  return out as unknown as Limits;
}

/** Parses one limit value; throws an Error with a sentence for the operator. */
export function parseLimit(name: string, raw: string): number | string {
  // Own keys only: "toString" is not a limit.
  const spec = Object.hasOwn(limitSpecs, name) ? (limitSpecs as Record<string, LimitSpec>)[name] : undefined;
  if (!spec) throw new Error(`unknown limit "${name}"; known limits: ${Object.keys(limitSpecs).join(', ')}`);
  if (spec.choices) {
    if (!spec.choices.includes(raw)) throw new Error(`limit ${name} must be one of ${spec.choices.join(', ')}`);
    return raw;
  }
  const n = Number(raw);
  const min = spec.min ?? (spec.default === 0 ? 0 : 1);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`limit ${name} must be a ${min === 0 ? 'non-negative' : 'positive'} whole number, not "${raw}"`);
  return n;
}

/**
 * Checks a `limits.NAME` setting the way `rookery config set` and
 * PUT /api/v1/config/{key} take it; returns the text to keep in the store.
 * Throws an Error with a sentence for the operator.
 */
export function limitSettingValue(key: string, raw: string): string {
  if (!key.startsWith('limits.')) throw new Error(`only limits.* are limits, not "${key}"`);
  return String(parseLimit(key.slice('limits.'.length), raw));
}

/** What a reset leaves in the store (the settings have no delete): the default applies again. */
export const limitResetValue = '';

/** What `rookery config set` and the API say about when a changed limit takes effect. */
export function whenApplied(spec: LimitSpec): string {
  return spec.atRestart ? 'nodes apply it when they next start' : 'running nodes apply it at once, to sessions that start from now on';
}

/** Defaults overlaid with the store's `limits.*` settings. */
export function limitsFromSettings(settings: Record<string, string>): Limits {
  const limits = defaultLimits() as unknown as Record<string, number | string>;
  for (const [key, value] of Object.entries(settings)) {
    if (!key.startsWith('limits.')) continue;
    const name = key.slice('limits.'.length);
    if (!Object.hasOwn(limitSpecs, name)) continue; // a newer node's setting; ignore rather than refuse to start
    if (value === limitResetValue) continue;
    limits[name] = parseLimit(name, value);
  }
  return limits as unknown as Limits;
}
