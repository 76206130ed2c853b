/** Vacation settings and the reply log on PostgreSQL. */
import { StoreError } from '../errors.js';
import type { UserId, VacationSettings, Vacations } from '../types.js';
import { checkVacation, toVacation, vacationSenderKey, type VacationRow } from '../vacation-rules.js';
import { nowMs, q, type Pg } from './database.js';
import type { PgChangeFeed } from './changes.js';
import { FeedCache } from './feed-cache.js';

export class PgVacations implements Vacations {
  /**
   * Who has vacation settings switched on (any dates): every delivery asks
   * activeAmong, and almost always nobody it names is away, which this
   * answers without a round trip. set() announces a 'directory' change;
   * a user's settings go only with the user (a directory change too).
   */
  private readonly switchedOn: FeedCache<Set<number>>;

  constructor(private readonly db: Pg, feed: PgChangeFeed | null = null) {
    this.switchedOn = new FeedCache(feed, ['directory'], async () =>
      new Set((await db.query<{ user_id: string | number }>('reading vacation settings', 'SELECT user_id FROM vacations WHERE enabled')).map((r) => Number(r.user_id))));
  }

  async get(userId: UserId): Promise<VacationSettings | null> {
    const [row] = await this.db.query<VacationRow>('reading vacation settings', 'SELECT * FROM vacations WHERE user_id = $1', [userId]);
    return row ? toVacation(row) : null;
  }

  async set(userId: UserId, settings: VacationSettings): Promise<VacationSettings> {
    const v = checkVacation(settings);
    // Inserting from the users row makes an unknown user an empty result, not a foreign-key error.
    // New settings start every sender's period over (in the same statement); the
    // transaction's commit NOTIFYs the change every node's copy of switchedOn follows.
    const rows = await this.db.transaction('saving vacation settings', async (c, changed) => {
      const saved = await q(c,
      `WITH restart AS (DELETE FROM vacation_replies WHERE user_id = $1)
       INSERT INTO vacations (user_id, enabled, subject, body, starts_at, ends_at, period_days, updated_at)
       SELECT id, $2, $3, $4, $5, $6, $7, ${nowMs} FROM users WHERE id = $1
       ON CONFLICT (user_id) DO UPDATE SET enabled = EXCLUDED.enabled, subject = EXCLUDED.subject, body = EXCLUDED.body,
         starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, period_days = EXCLUDED.period_days, updated_at = EXCLUDED.updated_at
       RETURNING user_id`,
      [userId, v.enabled, v.subject, v.body, v.startsAt?.getTime() ?? null, v.endsAt?.getTime() ?? null, v.periodDays]);
      if (saved.length > 0) changed({ kind: 'directory' });
      return saved;
    });
    if (rows.length === 0) throw new StoreError('not-found', `no user with id ${userId}`);
    return v;
  }

  async activeAmong(userIds: readonly UserId[], at: Date): Promise<Map<UserId, VacationSettings>> {
    const out = new Map<UserId, VacationSettings>();
    if (userIds.length === 0) return out;
    const cached = this.switchedOn.get();
    if (cached) {
      const on = await cached;
      if (!userIds.some((id) => on.has(Number(id)))) return out;
    }
    const rows = await this.db.query<VacationRow>('reading vacation settings',
      `SELECT * FROM vacations WHERE user_id = ANY($1::bigint[]) AND enabled
         AND (starts_at IS NULL OR starts_at <= $2) AND (ends_at IS NULL OR ends_at > $2)`,
      [userIds.map(Number), at.getTime()]);
    for (const r of rows) out.set(Number(r.user_id) as UserId, toVacation(r));
    return out;
  }

  async claimReply(userId: UserId, sender: string, periodMs: number, at: Date): Promise<boolean> {
    const key = vacationSenderKey(sender);
    const t = at.getTime();
    // ON CONFLICT DO UPDATE locks the row, so of two nodes claiming at once exactly one sees a row back.
    const rows = await this.db.query('recording a vacation reply',
      `INSERT INTO vacation_replies (user_id, sender, replied_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, sender) DO UPDATE SET replied_at = EXCLUDED.replied_at WHERE vacation_replies.replied_at <= $4
       RETURNING replied_at`,
      [userId, key, t, t - periodMs]);
    return rows.length > 0;
  }

  async pruneReplies(before: Date): Promise<number> {
    return (await this.db.query('forgetting old vacation replies', 'DELETE FROM vacation_replies WHERE replied_at < $1 RETURNING user_id', [before.getTime()])).length;
  }
}
