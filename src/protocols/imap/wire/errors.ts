/**
 * Errors of the IMAP wire layer: why a framed command is not a request the
 * server can run. RFC 3501 section 7.1.3 / RFC 9051 section 7.1.3 (BAD: a
 * protocol-level error in the client's command) and section 7.1 response
 * codes (BADCHARSET, TOOBIG). Parsing never throws to its caller: every
 * failure becomes one of these values, with a sentence the session sends
 * as `TAG BAD sentence` (or `* BAD` when no tag could be read).
 */

/** Stable codes for what went wrong; tests and the session switch on them. */
export type ImapWireErrorCode =
  /** The line was empty (just CRLF). */
  | 'empty-command'
  /** The line does not start with a valid tag followed by a space. */
  | 'bad-tag'
  /** The command name is not one this parser knows. */
  | 'unknown-command'
  /** The arguments do not follow the command's grammar. */
  | 'syntax'
  /** Parentheses or NOT/OR operators nest deeper than the parser's limit. */
  | 'nesting-too-deep'
  /** Text (outside a binary literal) is not valid UTF-8. */
  | 'invalid-utf8'
  /** A NUL byte outside a literal8. */
  | 'nul-byte'
  /** SEARCH CHARSET names a charset other than US-ASCII or UTF-8 (answered NO [BADCHARSET]). */
  | 'bad-charset'
  /** A bug in the parser; never expected, caught so it cannot crash the session. */
  | 'internal';

/** A command the parser refused. */
export interface ImapWireError {
  /** What went wrong. */
  readonly code: ImapWireErrorCode;
  /** The command's tag, or null to answer with `* BAD`. */
  readonly tag: string | null;
  /** The command name in upper case when it was read ("UID FETCH"), else null. */
  readonly command: string | null;
  /** A sentence for the client, without a trailing period. */
  readonly sentence: string;
  /** The status to answer with: BAD for syntax, NO for BADCHARSET. */
  readonly status: 'BAD' | 'NO';
  /** The response code to put in brackets, e.g. "BADCHARSET (US-ASCII UTF-8)", or null. */
  readonly responseCode: string | null;
}

/** Thrown inside the parser, caught at its entry point and turned into an {@link ImapWireError}. */
export class WireSyntaxError extends Error {
  constructor(
    /** The error code. */
    readonly code: ImapWireErrorCode,
    /** A sentence for the client. */
    readonly sentence: string,
    /** Status and response code, when not plain BAD. */
    readonly reply: { status: 'BAD' | 'NO'; responseCode: string | null } = { status: 'BAD', responseCode: null },
  ) {
    super(sentence);
    this.name = 'WireSyntaxError';
  }
}

/** Shorthand for a grammar violation. */
export function syntaxError(sentence: string): WireSyntaxError {
  return new WireSyntaxError('syntax', sentence);
}
