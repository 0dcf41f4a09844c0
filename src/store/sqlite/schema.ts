/**
 * SQLite schema and its migrations. Table names follow Kamailio/OpenSIPS (presentity, active_watchers, watchers) so
 * that operators find their way around; columns are ours. The only queries are "load everything" at start-up and
 * upsert/delete/update by primary key, so each table has exactly its key index and nothing else (every extra
 * index is one more b-tree write per PUBLISH).
 *
 * A migration is appended, never edited: a database records the last version applied in schema_version.
 */
import type Database from 'better-sqlite3';
import { StoreError, wrapStoreError } from '../errors.js';

interface Migration {
  readonly version: number;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- One row per publication (RFC 3903): a presentity has one per publishing device, keyed by its entity tag.
      CREATE TABLE presentity (
        presentity   TEXT    NOT NULL,
        event        TEXT    NOT NULL,
        etag         TEXT    NOT NULL,
        expires_at   INTEGER NOT NULL,
        received_at  INTEGER NOT NULL,
        content_type TEXT    NOT NULL,
        body         TEXT    NOT NULL,
        sender       TEXT,
        PRIMARY KEY (presentity, event, etag)
      );

      -- One row per subscription (RFC 6665). The dialog and flow are columns rather than JSON: binding a column is
      -- cheaper than JSON.stringify on write and JSON.parse on load. Only route_set and accept (lists) are JSON.
      -- The dialog's local CSeq is not here but in notify_cseq (below).
      CREATE TABLE active_watchers (
        id                 TEXT    NOT NULL PRIMARY KEY,
        presentity         TEXT    NOT NULL,
        event              TEXT    NOT NULL,
        event_id           TEXT,
        watcher            TEXT    NOT NULL,
        status             TEXT    NOT NULL,
        reason             TEXT,
        expires_at         INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        version            INTEGER NOT NULL,
        accept             TEXT    NOT NULL,
        call_id            TEXT    NOT NULL,
        local_tag          TEXT    NOT NULL,
        remote_tag         TEXT    NOT NULL,
        local_uri          TEXT    NOT NULL,
        remote_uri         TEXT    NOT NULL,
        remote_target      TEXT    NOT NULL,
        route_set          TEXT    NOT NULL,
        remote_seq         INTEGER NOT NULL,
        secure             INTEGER NOT NULL,
        flow_protocol      TEXT    NOT NULL,
        flow_address       TEXT    NOT NULL,
        flow_port          INTEGER NOT NULL,
        flow_id            TEXT,
        flow_local_address TEXT    NOT NULL,
        flow_local_port    INTEGER NOT NULL
      );

      -- The dialog's local CSeq (last NOTIFY sent), one row per active_watchers row, written by put-subscription
      -- and advanced by set-notify-cseq once per NOTIFY. A narrow table of its own because a changed row costs a
      -- whole page in the WAL: ~60 of these rows share a 4 KiB page, against ~6 active_watchers rows, so a group
      -- of NOTIFYs dirties ~10x fewer pages (measured: 6.7 against 12.4 us per update, docs/storage.md).
      CREATE TABLE notify_cseq (
        id        TEXT    NOT NULL PRIMARY KEY,
        local_seq INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Authorisation state of a watcher for a presentity and package (RFC 3857 watcherinfo states).
      CREATE TABLE watchers (
        presentity   TEXT    NOT NULL,
        watcher      TEXT    NOT NULL,
        event        TEXT    NOT NULL,
        status       TEXT    NOT NULL,
        reason       TEXT,
        display_name TEXT,
        inserted_at  INTEGER NOT NULL,
        PRIMARY KEY (presentity, watcher, event)
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Event header parameters of a subscription other than id (RFC 4235 filters, sla), as a JSON list of
      -- [name, value] pairs; NULL when there are none (and for rows written before version 2).
      ALTER TABLE active_watchers ADD COLUMN event_params TEXT;

      -- The body version after the last NOTIFY, advanced with local_seq (NULL: the active_watchers value holds).
      ALTER TABLE notify_cseq ADD COLUMN version INTEGER;

      -- Users' documents, e.g. RFC 5025 pres-rules managed over XCAP (RFC 4825): one per owner, auid and name.
      CREATE TABLE documents (
        owner        TEXT    NOT NULL,
        auid         TEXT    NOT NULL,
        name         TEXT    NOT NULL,
        etag         TEXT    NOT NULL,
        content_type TEXT    NOT NULL,
        body         TEXT    NOT NULL,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (owner, auid, name)
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- SIP users (Kamailio's subscriber table): only H(A1) per digest algorithm, never the password (RFC 7616 §5.1).
      CREATE TABLE users (
        aor         TEXT    NOT NULL PRIMARY KEY,
        username    TEXT    NOT NULL,
        realm       TEXT    NOT NULL,
        ha1_md5     TEXT    NOT NULL,
        ha1_sha256  TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );

      -- Registered contacts (Kamailio's location table; RFC 3261 §10.3, RFC 5626 instance/reg-id, RFC 3327 Path as
      -- a JSON list) and the flow each REGISTER came on, so requests can reach the UA behind NAT.
      CREATE TABLE bindings (
        aor                TEXT    NOT NULL,
        binding_key        TEXT    NOT NULL,
        uri                TEXT    NOT NULL,
        contact            TEXT    NOT NULL,
        q                  REAL,
        instance           TEXT,
        reg_id             INTEGER,
        expires_at         INTEGER NOT NULL,
        registered_at      INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        call_id            TEXT    NOT NULL,
        cseq               INTEGER NOT NULL,
        path               TEXT    NOT NULL,
        user_agent         TEXT,
        flow_protocol      TEXT    NOT NULL,
        flow_address       TEXT    NOT NULL,
        flow_port          INTEGER NOT NULL,
        flow_id            TEXT,
        flow_local_address TEXT    NOT NULL,
        flow_local_port    INTEGER NOT NULL,
        PRIMARY KEY (aor, binding_key)
      );
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the database to SCHEMA_VERSION, all migrations in one IMMEDIATE transaction (so two processes starting on
 * the same file do not both migrate). Refuses a database from a newer build rather than guessing at its schema.
 * Returns the version found before migrating (0 for a new database).
 */
export function migrate(db: Database.Database): number {
  let found = 0;
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
    found = row.v ?? 0;
    if (found > SCHEMA_VERSION) {
      throw new StoreError(
        'STORE_ERR_SCHEMA_TOO_NEW',
        `the database has schema version ${found}, this build knows up to ${SCHEMA_VERSION}; ` +
          'upgrade presenced or point it at another database',
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue;
      db.exec(m.sql);
    }
    if (found < SCHEMA_VERSION) {
      db.exec('DELETE FROM schema_version');
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw wrapStoreError('STORE_ERR_MIGRATION_FAILED', `migrating the schema from version ${found}`, err);
  }
  return found;
}
