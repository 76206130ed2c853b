/**
 * The embedded store's schema, one numbered step at a time. A step is never
 * edited once released; changes come as a new step. PRAGMA user_version
 * records how far a database has come.
 */
export const migrations: { version: number; description: string; sql: string }[] = [
  {
    version: 1,
    description: 'directory, mailboxes, messages, maildrop locks, settings',
    sql: `
      CREATE TABLE domains (
        name        TEXT PRIMARY KEY,
        created_at  INTEGER NOT NULL
      );
      CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        address       TEXT NOT NULL UNIQUE,
        domain        TEXT NOT NULL REFERENCES domains(name),
        password_hash TEXT NOT NULL,
        quota_bytes   INTEGER NOT NULL DEFAULT 0,
        used_bytes    INTEGER NOT NULL DEFAULT 0,
        customer_id   TEXT NOT NULL DEFAULT '',
        enabled       INTEGER NOT NULL DEFAULT 1,
        role          TEXT NOT NULL DEFAULT 'user',
        created_at    INTEGER NOT NULL
      );
      CREATE INDEX users_domain ON users(domain);
      CREATE TABLE aliases (
        address   TEXT NOT NULL,
        domain    TEXT NOT NULL REFERENCES domains(name),
        target    TEXT NOT NULL,
        position  INTEGER NOT NULL,
        PRIMARY KEY (address, target)
      );
      CREATE INDEX aliases_domain ON aliases(domain);
      CREATE TABLE forwards (
        address    TEXT NOT NULL,
        domain     TEXT NOT NULL REFERENCES domains(name),
        target     TEXT NOT NULL,
        keep_copy  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (address, target)
      );
      CREATE TABLE mailboxes (
        id              INTEGER PRIMARY KEY,
        user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name            TEXT NOT NULL,
        special_use     TEXT,
        uid_validity    INTEGER NOT NULL,
        uid_next        INTEGER NOT NULL DEFAULT 1,
        highest_modseq  INTEGER NOT NULL DEFAULT 1,
        subscribed      INTEGER NOT NULL DEFAULT 1,
        UNIQUE (user_id, name)
      );
      CREATE TABLE messages (
        mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid            INTEGER NOT NULL,
        blob_id        TEXT NOT NULL,
        size           INTEGER NOT NULL,
        internal_date  INTEGER NOT NULL,
        flags          TEXT NOT NULL DEFAULT '',
        modseq         INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX messages_blob ON messages(blob_id);
      CREATE TABLE maildrop_locks (
        user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        owner       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      CREATE TABLE settings (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'IMAP: expunge tombstones, modseq index, subscriptions by name, MIME index per blob',
    sql: `
      CREATE TABLE expunged (
        mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid         INTEGER NOT NULL,
        modseq      INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
      CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
      CREATE TABLE subscriptions (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name     TEXT NOT NULL,
        PRIMARY KEY (user_id, name)
      ) WITHOUT ROWID;
      INSERT INTO subscriptions (user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed = 1;
      ALTER TABLE mailboxes DROP COLUMN subscribed;
      ALTER TABLE users ADD COLUMN last_uid_validity INTEGER NOT NULL DEFAULT 0;
      UPDATE users SET last_uid_validity = (SELECT coalesce(max(uid_validity), 0) FROM mailboxes WHERE user_id = users.id);
      CREATE TABLE message_index (
        blob_id  TEXT PRIMARY KEY,
        version  INTEGER NOT NULL,
        data     TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'cluster registry: nodes and traffic managers with heartbeats and service health',
    sql: `
      CREATE TABLE cluster_members (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,
        address       TEXT NOT NULL,
        host          TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        version       TEXT NOT NULL,
        services      TEXT NOT NULL,
        state         TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        heartbeat_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description: 'cluster registry: the source address of a traffic manager',
    sql: `ALTER TABLE cluster_members ADD COLUMN source_address TEXT;`,
  },
  {
    version: 5,
    description: 'outbound queue: one row per message, one per recipient with its state and lease',
    sql: `
      CREATE TABLE queue_messages (
        id          TEXT PRIMARY KEY,
        sender      TEXT NOT NULL,
        blob_id     TEXT NOT NULL,
        size        INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        origin      TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE queue_recipients (
        queue_id          TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
        recipient         TEXT NOT NULL,
        domain            TEXT NOT NULL,
        state             TEXT NOT NULL DEFAULT 'queued',
        attempts          INTEGER NOT NULL DEFAULT 0,
        next_attempt_at   INTEGER NOT NULL,
        last_error        TEXT NOT NULL DEFAULT '',
        lease_owner       TEXT,
        lease_expires_at  INTEGER,
        delay_warned      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (queue_id, recipient)
      ) WITHOUT ROWID;
      CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt_at);
      CREATE INDEX queue_recipients_domain ON queue_recipients(domain, state);
      CREATE INDEX queue_recipients_lease ON queue_recipients(lease_owner);
    `,
  },
  {
    version: 6,
    description: 'change feed: committed changes, read by the other processes on this store (changes.ts)',
    sql: `
      CREATE TABLE changes (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        origin  TEXT NOT NULL,
        change  TEXT NOT NULL,
        at      INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    description: 'access tokens: API bearer tokens and web sessions, secrets hashed',
    sql: `
      CREATE TABLE access_tokens (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        secret_hash   TEXT NOT NULL,
        role          TEXT NOT NULL,
        domain        TEXT,
        subject       TEXT,
        label         TEXT NOT NULL DEFAULT '',
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        last_used_at  INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX access_tokens_subject ON access_tokens(subject);
    `,
  },
  {
    version: 8,
    description: 'vacation auto-reply: settings per user and the log of replies sent (RFC 3834 once per sender per period)',
    sql: `
      CREATE TABLE vacations (
        user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        enabled      INTEGER NOT NULL DEFAULT 0,
        subject      TEXT NOT NULL DEFAULT '',
        body         TEXT NOT NULL DEFAULT '',
        starts_at    INTEGER,
        ends_at      INTEGER,
        period_days  INTEGER NOT NULL DEFAULT 7,
        updated_at   INTEGER NOT NULL
      );
      CREATE TABLE vacation_replies (
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sender      TEXT NOT NULL,
        replied_at  INTEGER NOT NULL,
        PRIMARY KEY (user_id, sender)
      ) WITHOUT ROWID;
      CREATE INDEX vacation_replies_at ON vacation_replies(replied_at);
    `,
  },
  {
    version: 9,
    description: 'failed logins per client address and account, shared by every node\'s login throttle',
    sql: `
      CREATE TABLE login_failures (
        key              TEXT PRIMARY KEY,
        failures         INTEGER NOT NULL,
        last_failure_at  INTEGER NOT NULL,
        expires_at       INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX login_failures_last ON login_failures(last_failure_at);
      CREATE INDEX login_failures_expiry ON login_failures(expires_at);
    `,
  },
];

export const latestVersion = migrations[migrations.length - 1]!.version;
