/**
 * Vacation rules both SQL backends apply the same way: the checks on
 * what a user may set, and the row mapping.
 */
import { StoreError } from './errors.js';
import type { VacationSettings } from './types.js';

export const maxVacationSubjectChars = 200;
export const maxVacationBodyChars = 10_000;
export const maxVacationPeriodDays = 365;
export const defaultVacationPeriodDays = 7;

/** Checks settings before they are stored; returns them cleaned (subject trimmed, line endings of the text made \n). */
export function checkVacation(v: VacationSettings): VacationSettings {
  if (typeof v.enabled !== 'boolean') throw new StoreError('bad-parameters', 'enabled must be true or false');
  const subject = String(v.subject ?? '').trim();
  if (/[\r\n\0]/.test(subject)) throw new StoreError('bad-parameters', 'the subject must be one line');
  if (subject.length > maxVacationSubjectChars) throw new StoreError('bad-parameters', `the subject may have at most ${maxVacationSubjectChars} characters`);
  const body = String(v.body ?? '').replace(/\r\n?/g, '\n');
  if (body.includes('\0')) throw new StoreError('bad-parameters', 'the text must not contain NUL characters');
  if (body.length > maxVacationBodyChars) throw new StoreError('bad-parameters', `the text may have at most ${maxVacationBodyChars} characters`);
  if (v.enabled && body.trim() === '') throw new StoreError('bad-parameters', 'an enabled auto-reply needs a text');
  if (!Number.isSafeInteger(v.periodDays) || v.periodDays < 1 || v.periodDays > maxVacationPeriodDays) {
    throw new StoreError('bad-parameters', `the reply period must be a whole number of days from 1 to ${maxVacationPeriodDays}`);
  }
  for (const [name, d] of [['start', v.startsAt], ['end', v.endsAt]] as const) {
    if (d !== null && !(d instanceof Date && Number.isFinite(d.getTime()))) throw new StoreError('bad-parameters', `the ${name} is not a valid date`);
  }
  if (v.startsAt && v.endsAt && v.endsAt.getTime() <= v.startsAt.getTime()) throw new StoreError('bad-parameters', 'the end must come after the start');
  return { enabled: v.enabled, subject, body, startsAt: v.startsAt, endsAt: v.endsAt, periodDays: v.periodDays };
}

/** The key a sender is logged under: compared without regard to case. */
export function vacationSenderKey(sender: string): string {
  const key = sender.trim().toLowerCase();
  if (key === '' || key.length > 320) throw new StoreError('bad-parameters', 'a reply needs a sender address of at most 320 characters');
  return key;
}

export interface VacationRow {
  user_id: number | string;
  enabled: number | boolean;
  subject: string;
  body: string;
  starts_at: number | string | null;
  ends_at: number | string | null;
  period_days: number | string;
}

export function toVacation(r: VacationRow): VacationSettings {
  return {
    enabled: Boolean(r.enabled),
    subject: r.subject,
    body: r.body,
    startsAt: r.starts_at === null ? null : new Date(Number(r.starts_at)),
    endsAt: r.ends_at === null ? null : new Date(Number(r.ends_at)),
    periodDays: Number(r.period_days),
  };
}
