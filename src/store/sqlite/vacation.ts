/** Vacation settings and the reply log on the embedded store. */
import { StoreError, asStoreError } from '../errors.js';
import type { UserId, VacationSettings, Vacations } from '../types.js';
import { checkVacation, toVacation, vacationSenderKey, type VacationRow } from '../vacation-rules.js';
import { type Db, prepared, storeCall, writeTransaction } from './database.js';

export class SqliteVacations implements Vacations {
  constructor(private readonly db: Db) {}


  async get(userId: UserId): Promise<VacationSettings | null> {
    const row = storeCall('reading vacation settings', () =>
      prepared(this.db, 'SELECT * FROM vacations WHERE user_id = ?').get(userId) as VacationRow | undefined);
    return row ? toVacation(row) : null;
  }

  async set(userId: UserId, settings: VacationSettings): Promise<VacationSettings> {
    const v = checkVacation(settings);
    try {
      writeTransaction(this.db, () => {
        // New settings start every sender's period over: the new text reaches everyone once.
        prepared(this.db, 'DELETE FROM vacation_replies WHERE user_id = ?').run(userId);
        prepared(this.db, `INSERT INTO vacations (user_id, enabled, subject, body, starts_at, ends_at, period_days, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, subject = excluded.subject, body = excluded.body,
            starts_at = excluded.starts_at, ends_at = excluded.ends_at, period_days = excluded.period_days, updated_at = excluded.updated_at`)
          .run(userId, v.enabled ? 1 : 0, v.subject, v.body, v.startsAt?.getTime() ?? null, v.endsAt?.getTime() ?? null, v.periodDays, Date.now());
      });
    } catch (err) {
      if (String((err as { code?: string })?.code) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('not-found', `no user with id ${userId}`);
      throw asStoreError(err, 'saving vacation settings');
    }
    return v;
  }

  async activeAmong(userIds: readonly UserId[], at: Date): Promise<Map<UserId, VacationSettings>> {
    const out = new Map<UserId, VacationSettings>();
    if (userIds.length === 0) return out;
    const t = at.getTime();
    // One cached statement whatever the number of users (this runs after every delivery).
    const rows = storeCall('reading vacation settings', () =>
      prepared(this.db, `SELECT * FROM vacations WHERE user_id IN (SELECT value FROM json_each(?)) AND enabled = 1
        AND (starts_at IS NULL OR starts_at <= ?) AND (ends_at IS NULL OR ends_at > ?)`).all(JSON.stringify(userIds), t, t) as VacationRow[]);
    for (const r of rows) out.set(Number(r.user_id) as UserId, toVacation(r));
    return out;
  }

  async claimReply(userId: UserId, sender: string, periodMs: number, at: Date): Promise<boolean> {
    const key = vacationSenderKey(sender);
    const t = at.getTime();
    // One statement: the insert or the update happens only when the last reply is older than the period.
    const row = storeCall('recording a vacation reply', () =>
      prepared(this.db, `INSERT INTO vacation_replies (user_id, sender, replied_at) VALUES (?, ?, ?)
        ON CONFLICT (user_id, sender) DO UPDATE SET replied_at = excluded.replied_at WHERE vacation_replies.replied_at <= ?
        RETURNING replied_at`).get(userId, key, t, t - periodMs));
    return row !== undefined;
  }

  async pruneReplies(before: Date): Promise<number> {
    return storeCall('forgetting old vacation replies', () =>
      prepared(this.db, 'DELETE FROM vacation_replies WHERE replied_at < ?').run(before.getTime()).changes);
  }
}
