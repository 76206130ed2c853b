/**
 * Why one message's FETCH response could not be built. The only case is
 * RFC 3516 section 4.2 (and RFC 9051 6.4.5): BINARY[] of a part whose
 * Content-Transfer-Encoding the server cannot decode "MUST fail the request
 * and issue a NO response that contains the UNKNOWN-CTE extended response
 * code". The FETCH command catches it per message: it may still send the
 * other messages' responses, then answers `NO [UNKNOWN-CTE] sentence`.
 */

/** Stable codes; the FETCH command switches on them. */
export type FetchErrorCode =
  /** BINARY[] or BINARY.SIZE[] of a part with an encoding other than 7bit, 8bit, binary, base64, quoted-printable. */
  'unknown-cte';

/** A FETCH item the server cannot produce for one message. */
export class FetchError extends Error {
  /** The tagged reply's status. */
  readonly status = 'NO' as const;

  constructor(
    /** What went wrong. */
    readonly code: FetchErrorCode,
    /** The response code to put in brackets, e.g. "UNKNOWN-CTE". */
    readonly responseCode: string,
    /** A sentence for the client, without a trailing period. */
    readonly sentence: string,
  ) {
    super(sentence);
    this.name = 'FetchError';
  }
}

/** The error for a part whose Content-Transfer-Encoding cannot be decoded. */
export function unknownCteError(part: readonly number[], encoding: string): FetchError {
  // The encoding comes from the message: keep it printable and short for the reply line.
  const shown = encoding.replace(/[^\x21-\x7e]/g, '?').slice(0, 40);
  return new FetchError('unknown-cte', 'UNKNOWN-CTE', `cannot decode part ${part.join('.')}: unknown Content-Transfer-Encoding "${shown}"`);
}
