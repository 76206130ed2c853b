/**
 * The POP3 verb table: for every verb, the states where it is allowed and
 * what it does. The session's dispatcher owns the guards (state checks,
 * bad-command counting, error mapping); the wire grammar is in wire.ts.
 *
 *   verb  state           RFC
 *   USER  AUTHORIZATION   1939 section 7
 *   PASS  AUTHORIZATION   1939 section 7
 *   AUTH  AUTHORIZATION   5034 (PLAIN only, RFC 4616)
 *   STLS  AUTHORIZATION   2595 section 4
 *   CAPA  any             2449 section 5
 *   QUIT  any             1939 sections 4 and 6
 *   STAT  TRANSACTION     1939 section 5
 *   LIST  TRANSACTION     1939 section 5
 *   UIDL  TRANSACTION     1939 section 7
 *   RETR  TRANSACTION     1939 section 5
 *   TOP   TRANSACTION     1939 section 7
 *   DELE  TRANSACTION     1939 section 5
 *   NOOP  TRANSACTION     1939 section 5
 *   RSET  TRANSACTION     1939 section 5
 *
 * Passwords (USER/PASS, AUTH PLAIN) are taken only over TLS or from a
 * loopback address, as for IMAP and submission (src/net/plaintext-auth.ts,
 * like Dovecot's disable_plaintext_auth): elsewhere CAPA hides USER and
 * SASL until STLS, and a login is refused with [AUTH] before any password.
 */
import { plaintextAuthAllowed } from '../../net/plaintext-auth.js';
import { Pop3Error } from './errors.js';
import type { Pop3Session, Pop3State } from './session.js';
import { multiline, ok, type Pop3Command, type Pop3Verb } from './wire.js';

type CommandOf<V extends Pop3Verb> = Extract<Pop3Command, { verb: V }>;

/** One row of the verb table. */
export interface VerbSpec<V extends Pop3Verb> {
  /** States in which the verb may be used; elsewhere it is a bad command. */
  states: readonly Pop3State[];
  /** What the verb does, as a phrase for error replies ("retrieve the message"). */
  what: string;
  /** Carries the command out and replies. Throws Pop3Error or StoreError to answer -ERR. */
  run(session: Pop3Session, cmd: CommandOf<V>): Promise<void>;
}

const AUTH: readonly Pop3State[] = ['AUTHORIZATION'];
const TRANS: readonly Pop3State[] = ['TRANSACTION'];
const ANY: readonly Pop3State[] = ['AUTHORIZATION', 'TRANSACTION'];

/** Whether this session may send a password now. */
function loginAllowed(session: Pop3Session): boolean {
  return plaintextAuthAllowed(session.secure, session.clientAddress);
}

/** Refuses a login before any password crosses an unprotected network. */
function requireProtectedLogin(session: Pop3Session): void {
  if (!loginAllowed(session)) throw new Pop3Error('plain-text logins are refused on this connection; use STLS or port 995 first', 'AUTH');
}

/** RFC 2449 capabilities; USER and SASL only where a login is allowed, STLS while it can still be used. */
export function capabilities(session: Pop3Session): string[] {
  const login = loginAllowed(session) ? ['USER'] : [];
  const sasl = loginAllowed(session) ? ['SASL PLAIN'] : [];
  const caps = ['TOP', ...login, 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', ...sasl];
  if (!session.secure && session.state === 'AUTHORIZATION') caps.push('STLS');
  caps.push('IMPLEMENTATION Rookery');
  return caps;
}

export const verbs: { [V in Pop3Verb]: VerbSpec<V> } = {
  USER: {
    states: AUTH,
    what: 'log in',
    async run(session, cmd) {
      requireProtectedLogin(session);
      // Always +OK: whether the user exists is only revealed by PASS failing,
      // and PASS fails the same way for both.
      session.pendingUser = cmd.name;
      await session.write(ok('send PASS'));
    },
  },
  PASS: {
    states: AUTH,
    what: 'log in',
    async run(session, cmd) {
      requireProtectedLogin(session);
      const name = session.pendingUser;
      if (name === null) throw new Pop3Error('send USER first');
      session.pendingUser = null;
      await session.login(name, cmd.password);
    },
  },
  AUTH: {
    states: AUTH,
    what: 'log in',
    async run(session, cmd) {
      // AUTH without a mechanism lists them (the RFC 1734 form Outlook still sends).
      if (cmd.mechanism === null) {
        await session.write(multiline('SASL mechanisms follow', ['PLAIN']));
        return;
      }
      if (cmd.mechanism !== 'PLAIN') throw new Pop3Error('unsupported SASL mechanism');
      requireProtectedLogin(session);
      if (cmd.initialResponse === null) await session.awaitSaslResponse();
      else await session.saslPlain(cmd.initialResponse);
    },
  },
  STLS: {
    states: AUTH,
    what: 'start TLS',
    async run(session) {
      if (session.secure) throw new Pop3Error('already using TLS');
      await session.startTls();
    },
  },
  CAPA: {
    states: ANY,
    what: 'list capabilities',
    async run(session) {
      await session.write(multiline('capability list follows', capabilities(session)));
    },
  },
  QUIT: {
    states: ANY,
    what: 'finish the session',
    async run(session) {
      await session.quit();
    },
  },
  STAT: {
    states: TRANS,
    what: 'count messages',
    async run(session) {
      const { count, octets } = session.maildrop.totals();
      await session.write(ok(`${count} ${octets}`));
    },
  },
  LIST: {
    states: TRANS,
    what: 'list messages',
    async run(session, cmd) {
      if (cmd.msg !== null) {
        const entry = session.maildrop.get(cmd.msg);
        await session.write(ok(`${entry.msg} ${entry.size}`));
        return;
      }
      const { count, octets } = session.maildrop.totals();
      const lines = session.maildrop.visible().map((e) => `${e.msg} ${e.size}`);
      await session.write(multiline(`${count} messages (${octets} octets)`, lines));
    },
  },
  UIDL: {
    states: TRANS,
    what: 'list unique ids',
    async run(session, cmd) {
      if (cmd.msg !== null) {
        const entry = session.maildrop.get(cmd.msg);
        await session.write(ok(`${entry.msg} ${entry.uidl}`));
        return;
      }
      const lines = session.maildrop.visible().map((e) => `${e.msg} ${e.uidl}`);
      await session.write(multiline('unique-id listing follows', lines));
    },
  },
  RETR: {
    states: TRANS,
    what: 'retrieve the message',
    async run(session, cmd) {
      // Sent whole: \Seen at QUIT, with the deletions (not if the session drops).
      await session.sendMessage(session.maildrop.get(cmd.msg), null);
      session.maildrop.markRetrieved(cmd.msg);
    },
  },
  TOP: {
    states: TRANS,
    what: 'retrieve the message',
    async run(session, cmd) {
      await session.sendMessage(session.maildrop.get(cmd.msg), cmd.lines);
    },
  },
  DELE: {
    states: TRANS,
    what: 'delete the message',
    async run(session, cmd) {
      session.maildrop.markDeleted(cmd.msg);
      await session.write(ok(`message ${cmd.msg} deleted`));
    },
  },
  NOOP: {
    states: TRANS,
    what: 'do nothing',
    async run(session) {
      await session.write(ok('nothing done'));
    },
  },
  RSET: {
    states: TRANS,
    what: 'reset',
    async run(session) {
      session.maildrop.reset();
      const { count, octets } = session.maildrop.totals();
      await session.write(ok(`maildrop has ${count} messages (${octets} octets)`));
    },
  },
};
