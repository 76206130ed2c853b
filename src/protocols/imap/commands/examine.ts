/**
 * EXAMINE (RFC 3501 section 6.3.2, RFC 9051 section 6.3.3)
 *
 *     examine = "EXAMINE" SP mailbox [SP "(" select-param *(SP select-param) ")"]
 *
 * SELECT, read-only: no flag changes, no expunges, FETCH never sets \Seen.
 * The work is shared with select.ts.
 */
import { openMailboxCommand } from './select.js';

export const examine = openMailboxCommand('EXAMINE');
