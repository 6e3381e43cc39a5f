/**
 * The archive's schema, as numbered steps run in order at start. Each is
 * plain SQL that SQLite and PostgreSQL both run (or, where they differ, one
 * text for each). A step once released is
 * never edited: a change is a new step, so an old database is brought
 * forward and a new one built the same way.
 *
 * Every message table is keyed by place first (room or conversation), so
 * that it can be distributed by place (Citus) and read a place at a time.
 */
/** A step both engines run as it is, or one written for each engine (what their full-text search needs differs). */
export type Migration = string | { sqlite: string; postgres: string };

/** The SQL of one step for an engine ("SQLite" or "PostgreSQL", as SqlDriver.engine names it). */
export function migrationSql(step: Migration, engine: string): string {
  if (typeof step === "string") return step;
  return engine === "PostgreSQL" ? step.postgres : step.sqlite;
}

// Search (issue 24): each message's words, folded in TypeScript (search-text.ts) so both engines index the same
// words, keyed by place first. SQLite keeps no copy of the text (contentless) and removes a deleted message's
// words from the index itself (secure-delete), not only from the answers.
export const SEARCH_STEP: Migration = {
  sqlite: `
  CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY,
    place TEXT NOT NULL,
    mid BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    sender TEXT NOT NULL
  );
  CREATE UNIQUE INDEX search_docs_by_place ON search_docs (place, mid);
  CREATE INDEX search_docs_by_ts ON search_docs (ts);
  CREATE VIRTUAL TABLE search_fts USING fts5(
    place, body, content = '', contentless_delete = 1, tokenize = 'ascii', prefix = '2 3 4 5'
  );
  INSERT INTO search_fts (search_fts, rank) VALUES ('secure-delete', 1);
  `,
  postgres: `
  CREATE EXTENSION IF NOT EXISTS btree_gin;
  CREATE TABLE search_docs (
    place TEXT NOT NULL,
    mid BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    sender TEXT NOT NULL,
    words TSVECTOR NOT NULL,
    PRIMARY KEY (place, mid)
  );
  CREATE INDEX search_docs_words ON search_docs USING GIN (place, words);
  CREATE INDEX search_docs_by_ts ON search_docs (ts);
  `,
};

// Issue 21: on PostgreSQL a message's words and its sender's name key move into its own row, with the GIN
// index and the time index that search walks for common words there: a stored message no longer costs a row of
// its own in search_docs, with its primary key, nor a statement. SQLite keeps its FTS5 table, whose rowids need
// search_docs.
export const WORDS_STEP: Migration = {
  sqlite: "",
  postgres: `
  ALTER TABLE messages ADD COLUMN sender TEXT;
  ALTER TABLE messages ADD COLUMN words TSVECTOR;
  UPDATE messages m SET sender = d.sender, words = d.words FROM search_docs d WHERE d.place = m.place AND d.mid = m.mid;
  DROP TABLE search_docs;
  CREATE INDEX messages_words ON messages USING GIN (place, words) WHERE words IS NOT NULL;
  CREATE INDEX messages_by_ts ON messages (ts);
  `,
};

export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE places (
    place TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    top BIGINT NOT NULL,
    created BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    owner TEXT
  );
  CREATE TABLE messages (
    place TEXT NOT NULL,
    mid BIGINT NOT NULL,
    uid TEXT NOT NULL,
    ts BIGINT NOT NULL,
    text TEXT,
    edited BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    json TEXT NOT NULL,
    PRIMARY KEY (place, mid)
  );
  CREATE TABLE changes (
    place TEXT NOT NULL,
    mid BIGINT NOT NULL,
    target BIGINT NOT NULL,
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    emoji TEXT,
    json TEXT NOT NULL,
    PRIMARY KEY (place, mid)
  );
  CREATE INDEX changes_by_target ON changes (place, target);
  CREATE TABLE reactions (
    place TEXT NOT NULL,
    mid BIGINT NOT NULL,
    uid TEXT NOT NULL,
    emoji TEXT NOT NULL,
    PRIMARY KEY (place, mid, uid, emoji)
  );
  CREATE TABLE users (
    uid TEXT PRIMARY KEY,
    name TEXT,
    created BIGINT NOT NULL,
    last_used BIGINT NOT NULL
  );
  CREATE INDEX users_by_last_used ON users (last_used);
  CREATE TABLE user_rooms (
    uid TEXT NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (uid, room)
  );
  CREATE TABLE conversations (
    uid TEXT NOT NULL,
    other TEXT NOT NULL,
    ts BIGINT NOT NULL,
    PRIMARY KEY (uid, other)
  );
  CREATE TABLE read_marks (
    uid TEXT NOT NULL,
    place TEXT NOT NULL,
    epoch TEXT NOT NULL,
    mid BIGINT NOT NULL,
    PRIMARY KEY (uid, place)
  );
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // Accounts (issue 22): people who sign in, their sessions and their invitation and reset links.
  // Sessions and links are kept by a hash of their token, so a copy of the database signs nobody in.
  `
  CREATE TABLE accounts (
    uid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    hash TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created BIGINT NOT NULL
  );
  CREATE TABLE sign_in_sessions (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    expires BIGINT NOT NULL
  );
  CREATE INDEX sign_in_sessions_by_uid ON sign_in_sessions (uid);
  CREATE TABLE account_links (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    uid TEXT,
    uses_left INTEGER NOT NULL,
    expires BIGINT NOT NULL
  );
  `,
  // Single sign-on (issue 22): an account is its provider's (issuer, subject), never its name or e-mail,
  // which a provider may let a person change or reuse.
  `
  CREATE TABLE account_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    uid TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
  );
  `,
  // Retention (RETENTION_DAYS) deletes a place's messages older than a time: by place first, then time,
  // so a purge reads only what it deletes, and stays keyed by place like every other query.
  `
  CREATE INDEX messages_by_place_ts ON messages (place, ts);
  `,
  // Profiles (issue 22): the name a person is shown as, and their avatar's colour; NULL for the defaults.
  `
  ALTER TABLE accounts ADD COLUMN display_name TEXT;
  ALTER TABLE accounts ADD COLUMN colour INTEGER;
  `,
  // Rooms with owners (issue 23): what a room is, who belongs to it with which role, and the ways in.
  // A room no row holds is public and the admins' (the lobby, rooms a join made before this step).
  // Links are kept by a hash of their token, as sign-in links are.
  `
  CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    visibility TEXT NOT NULL,
    creator TEXT,
    created BIGINT NOT NULL
  );
  CREATE INDEX rooms_by_name ON rooms (name_key, id);
  CREATE INDEX rooms_by_creator ON rooms (creator);
  CREATE TABLE room_members (
    room TEXT NOT NULL,
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (room, uid)
  );
  CREATE INDEX room_members_by_name ON room_members (room, name_key, uid);
  CREATE TABLE room_invitations (
    room TEXT NOT NULL,
    uid TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (room, uid)
  );
  CREATE TABLE room_links (
    hash TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    by_uid TEXT NOT NULL,
    uses_left INTEGER NOT NULL,
    expires BIGINT NOT NULL
  );
  CREATE INDEX room_links_by_room ON room_links (room);
  `,
  // Moderation (issue 23): bans and mutes with their end, each room's slow mode and pin, the log of what its
  // moderators did and the reports its members made (each a JSON entry numbered per room), and blocks per user.
  `
  CREATE TABLE room_sanctions (
    room TEXT NOT NULL,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    until BIGINT,
    PRIMARY KEY (room, uid, kind)
  );
  CREATE TABLE room_rules (
    room TEXT PRIMARY KEY,
    slow INTEGER NOT NULL DEFAULT 0,
    pinned TEXT
  );
  CREATE TABLE room_logs (
    room TEXT NOT NULL,
    kind TEXT NOT NULL,
    id BIGINT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (room, kind, id)
  );
  CREATE TABLE blocks (
    uid TEXT NOT NULL,
    other TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (uid, other)
  );
  `,
  // Search (issue 24): see SEARCH_STEP; the messages kept before it are indexed at start (SqlArchive.open).
  SEARCH_STEP,
  // A room's rules count their changes, so that a page told of two out of order keeps the newer (room_rules `v`).
  "ALTER TABLE room_rules ADD COLUMN version BIGINT NOT NULL DEFAULT 0;",
  // So do the rooms' names and topics (the `room` frame's `v`).
  "ALTER TABLE rooms ADD COLUMN version BIGINT NOT NULL DEFAULT 0;",
  WORDS_STEP,
  // Issue 21: a retention purge walks each place's primary key (SqlArchive.purge), so no stored message pays for
  // an index by (place, ts) any more.
  "DROP INDEX messages_by_place_ts;",
];
