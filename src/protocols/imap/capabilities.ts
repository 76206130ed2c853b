/**
 * What the server announces in CAPABILITY and in the greeting's and login's
 * [CAPABILITY ...] codes (RFC 3501 section 7.2.1, RFC 9051 section 7.2.2).
 * Only what is implemented and tested is listed. Before login the list is
 * short: a client learns the full one after authenticating (RFC 3501 6.2.2
 * lets the list change, and clients re-ask or read the OK's code).
 */

/** Extensions a client may ENABLE (RFC 5161), upper case. */
export const ENABLEABLE = ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2'] as const;
export type EnableableCapability = (typeof ENABLEABLE)[number];

/** How an ENABLEd capability is spelled in the ENABLED response (capability names are case-insensitive). */
export function capabilitySpelling(capability: EnableableCapability): string {
  return capability === 'IMAP4REV2' ? 'IMAP4rev2' : capability;
}

/**
 * Capabilities that do not depend on the connection or the login state.
 * Both revisions are announced (RFC 9051 Appendix A): the session speaks
 * IMAP4rev1 until the client sends `ENABLE IMAP4rev2`.
 */
const BASE = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE'];

/** Capabilities added once the user has logged in. */
const AFTER_LOGIN = [
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'ESEARCH',
  'CONDSTORE',
  'QRESYNC',
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'UTF8=ACCEPT',
];

/** What decides the capability list of one connection at one moment. */
export interface CapabilityInputs {
  /** The user has logged in. */
  readonly authenticated: boolean;
  /** The connection is encrypted (implicit TLS or after STARTTLS). */
  readonly secure: boolean;
  /** Plain-text logins are allowed on this connection (see {@link plaintextAuthAllowed}). */
  readonly plaintextAuth: boolean;
  /** APPENDLIMIT in bytes (RFC 7889): the largest message APPEND accepts. */
  readonly appendLimitBytes: number;
}

/** The capability list, in the order it is sent. */
export function capabilityList(inputs: CapabilityInputs): string[] {
  const out = [...BASE];
  if (!inputs.authenticated) {
    if (!inputs.secure) out.push('STARTTLS');
    // RFC 3501 6.2.3 / 7.2.1: LOGINDISABLED when plain-text logins are refused.
    if (inputs.plaintextAuth) out.push('AUTH=PLAIN');
    else out.push('LOGINDISABLED');
    return out;
  }
  out.push(...AFTER_LOGIN, `APPENDLIMIT=${inputs.appendLimitBytes}`);
  return out;
}
