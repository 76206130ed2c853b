/**
 * IMAP dates (RFC 3501 section 9, unchanged in RFC 9051 section 9):
 *
 *     date        = date-text / DQUOTE date-text DQUOTE      ; SEARCH
 *     date-text   = date-day "-" date-month "-" date-year
 *     date-day    = 1*2DIGIT
 *     date-month  = "Jan" / "Feb" / ... / "Dec"               ; case-insensitive
 *     date-year   = 4DIGIT
 *     date-time   = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                   SP time SP zone DQUOTE                    ; APPEND, INTERNALDATE
 *     date-day-fixed = (SP DIGIT) / 2DIGIT
 *     time        = 2DIGIT ":" 2DIGIT ":" 2DIGIT
 *     zone        = ("+" / "-") 4DIGIT
 *
 * Parsing validates the calendar (no 31-Feb). Formatting produces the fixed
 * form servers send in INTERNALDATE.
 */
import type { ImapDate, ImapDateTime } from './request.js';

/** Month names in wire spelling, index 0 = January. */
export const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

function monthNumber(name: string): number {
  const i = MONTH_NAMES.findIndex((m) => m.toLowerCase() === name.toLowerCase());
  return i + 1;
}

/** Milliseconds since the epoch of a UTC wall-clock time; years below 100 stay as they are. */
function utcMs(year: number, month: number, day: number, hours = 0, minutes = 0, seconds = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hours, minutes, seconds, 0);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcMs(year, month + 1, 0)).getUTCDate();
}

/** Parses `date-text` ("1-Feb-1994"); returns null when malformed or not a real day. */
export function parseDateText(text: string): ImapDate | null {
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const month = monthNumber(m[2]!);
  const year = Number(m[3]);
  if (month === 0 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/**
 * Parses the inside of a `date-time` (without the quotes): "17-Jul-1996 02:44:25 -0700".
 * A one-digit day without the leading space is accepted too (some clients send it).
 * Returns null when malformed or out of range.
 */
export function parseDateTimeText(text: string): ImapDateTime | null {
  const m = /^ ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(text);
  if (!m) return null;
  const date = parseDateText(`${m[1]}-${m[2]}-${m[3]}`);
  if (!date) return null;
  const hours = Number(m[4]);
  const minutes = Number(m[5]);
  const seconds = Number(m[6]);
  const zoneHours = Number(m[8]);
  const zoneMinutes = Number(m[9]);
  // 60 seconds: a leap second, allowed by RFC 5322 and harmless here.
  if (hours > 23 || minutes > 59 || seconds > 60 || zoneMinutes > 59) return null;
  const zoneOffsetMinutes = (m[7] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  const instant = utcMs(date.year, date.month, date.day, hours, minutes, seconds) - zoneOffsetMinutes * 60_000;
  return { date: new Date(instant), zoneOffsetMinutes };
}

/**
 * Formats an instant as `date-time` without quotes, e.g. "17-Jul-1996 02:44:25 -0700",
 * in the given zone (minutes east of UTC; default 0, written "+0000").
 */
export function formatDateTime(date: Date, zoneOffsetMinutes = 0): string {
  const local = new Date(date.getTime() + zoneOffsetMinutes * 60_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const day = local.getUTCDate();
  const sign = zoneOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(zoneOffsetMinutes);
  return (
    `${day < 10 ? ' ' + day : day}-${MONTH_NAMES[local.getUTCMonth()]}-${pad(local.getUTCFullYear(), 4)} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}
