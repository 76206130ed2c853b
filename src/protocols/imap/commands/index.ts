/**
 * The IMAP command table: every command the server runs, one file each.
 * The dispatcher (session.ts) looks a parsed request up here, checks the
 * state against `states`, and uses `flags` to decide whether EXPUNGE may be
 * reported around it (RFC 3501 7.4.1). UID forms share their command's
 * file (the request says `uid: true`).
 *
 *   any state        CAPABILITY NOOP LOGOUT ID
 *   not logged in    STARTTLS AUTHENTICATE LOGIN
 *   logged in        SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE
 *                    LIST LSUB STATUS APPEND IDLE NAMESPACE ENABLE
 *                    GETQUOTA GETQUOTAROOT SETQUOTA
 *   mailbox selected CHECK CLOSE UNSELECT EXPUNGE SEARCH FETCH STORE COPY MOVE
 */
import type { ImapCommand } from '../session-context.js';
import type { ImapCommandName } from '../wire/index.js';
import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { check } from './check.js';
import { close } from './close.js';
import { copy } from './copy.js';
import { create } from './create.js';
import { del } from './delete.js';
import { enable } from './enable.js';
import { examine } from './examine.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { getquota } from './getquota.js';
import { getquotaroot } from './getquotaroot.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { list } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { lsub } from './lsub.js';
import { move } from './move.js';
import { namespace } from './namespace.js';
import { noop } from './noop.js';
import { rename } from './rename.js';
import { search } from './search.js';
import { select } from './select.js';
import { setquota } from './setquota.js';
import { starttls } from './starttls.js';
import { status } from './status.js';
import { store } from './store.js';
import { subscribe } from './subscribe.js';
import { unselect } from './unselect.js';
import { unsubscribe } from './unsubscribe.js';

const table: ImapCommand<never>[] = [
  capability, noop, logout, id,
  starttls, authenticate, login,
  select, examine, create, del, rename, subscribe, unsubscribe, list, lsub, status, append, idle, namespace, enable,
  getquota, getquotaroot, setquota,
  check, close, unselect, expunge, search, fetch, store, copy, move,
] as unknown as ImapCommand<never>[];

/** Command name to command. */
export const COMMANDS: ReadonlyMap<ImapCommandName, ImapCommand> = new Map(table.map((c) => [c.name as ImapCommandName, c as unknown as ImapCommand]));
