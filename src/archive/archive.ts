import type { SqlDriver } from "./sql-driver.js";

/**
 * The system of record: every room message and direct message with its
 * current state, the rooms, and what is kept of a user. The seam between the
 * embedded engine (SQLite in DATA_DIR) and PostgreSQL (DATABASE_URL); both
 * run the same SQL (sql-archive.ts), so they keep and answer alike.
 *
 * A "place" is a room's name or a conversation's (`@…`): every query of
 * messages is keyed by place first, so the tables can be partitioned by it.
 */

/** A stored entry as it was published: its mid, when, and its frame (a message, or a change to one). */
export interface ArchivedEntry {
  mid: number;
  ts: number;
  json: string;
}

/** One place's entries carried from elsewhere, all of one epoch, in mid order. */
export interface CarryBatch {
  place: string;
  epoch: string;
  entries: ArchivedEntry[];
}

/** What the archive knows of a room or a conversation. */
export interface PlaceMeta {
  /** The lifetime of its mids; kept, so a restart does not start the room over. */
  epoch: string;
  /** The newest mid it has ever had (0 for none). */
  top: number;
}

export interface ArchivePage {
  /** Messages and the changes to them that are still current, in mid order. */
  entries: { mid: number; json: string }[];
  /** Nothing older is kept. */
  complete: boolean;
}

/** Messages written at or after this time (ms) count; 0 for all. */
export type Cutoff = number;

export interface KeptUser {
  name: string | undefined;
  rooms: string[];
  conversations: { uid: string; name: string }[];
}

/** A `search` (docs/protocol.md#search) over places the person may read. */
export interface SearchAsk {
  /** The query as typed. */
  q: string;
  /** The rooms and conversations the person may read now; a room's place is its name. */
  places: string[];
  /** The `next` of the page before. */
  before: string | undefined;
  limit: number;
  /** Nothing written before this (ms) is kept any more (RETENTION_DAYS); 0 for all. */
  cutoff: Cutoff;
}

/** A message that matched, as it reads now, with where the query matched its text. */
export interface ArchivedHit {
  place: string;
  mid: number;
  ts: number;
  text: string;
  edited: number | undefined;
  /** The frame as published: who sent it (`id, uid, name`) and, in a conversation, to whom. */
  json: string;
  /** [start, end) UTF-16 ranges in `text`. */
  matches: [number, number][];
}

/** A page of hits, newest first, and the cursor of the next; or the query refused, and why. */
export type SearchAnswer =
  | {
      refused: "too_long" | "empty" | "bad_request";
      why: string;
      /** How long the database worked on it before refusing (ms): what it cost. */
      ms?: number;
    }
  | {
      hits: ArchivedHit[];
      next: string | undefined;
      /** How long the database worked on it (ms), not counting the wait for its turn: what it costs. */
      ms: number;
    };

export interface Archive {
  /** The place's epoch and newest mid, or undefined for a place never written to. */
  place(place: string): Promise<PlaceMeta | undefined>;
  /**
   * Records one published entry. A message is kept with its text; a change
   * changes its message's state: an edit replaces the text (earlier edits are
   * dropped), a reaction sets or clears one (user, emoji), and a deletion
   * erases the text and every edit and reaction, leaving a tombstone with its mid.
   * False, and nothing kept, for a change to a message that is not kept or is deleted.
   */
  append(place: string, epoch: string, entry: ArchivedEntry): Promise<boolean>;
  /**
   * Records entries carried from elsewhere (Redis), in mid order, in one
   * transaction; those at or below the place's newest mid are kept already
   * and skipped, so carrying the same entries twice stores them once.
   * Resolves with how many were new.
   */
  carry(place: string, epoch: string, entries: ArchivedEntry[]): Promise<number>;
  /**
   * As `carry`, for many places at once, in one transaction: one commit
   * for all of them, whatever their number. Resolves with how many were new
   * in each batch, in order.
   */
  carryMany(batches: CarryBatch[]): Promise<number[]>;
  /** Whether the archive keeps message `mid` of the place, not deleted: a change to it would change something. */
  holds(place: string, mid: number): Promise<boolean>;
  /** The newest `limit` messages older than `before`, with their current changes. */
  page(place: string, before: number | undefined, limit: number, cutoff: Cutoff): Promise<ArchivePage>;
  /** Every message and current change after `since`, or undefined when more than `max` messages follow it. */
  since(
    place: string,
    since: number,
    max: number,
    cutoff: Cutoff,
  ): Promise<{ mid: number; json: string }[] | undefined>;

  /** Messages in `ask.places` that match `ask.q`, newest first; never a deleted message or an edit's old text. */
  search(ask: SearchAsk): Promise<SearchAnswer>;

  loadUser(uid: string, conversationsListed: number): Promise<KeptUser>;
  setName(uid: string, name: string): Promise<void>;
  nameOf(uid: string): Promise<string | undefined>;
  /** The rooms the user is kept in. */
  roomsOf(uid: string): Promise<string[]>;
  /** Keeps the user in one more room unless they are kept in `most` already (0 or none: no limit). */
  addRoom(uid: string, room: string, most?: number): Promise<"added" | "already" | "refused">;
  removeRoom(uid: string, room: string): Promise<void>;
  touchConversation(a: string, b: string, ts: number): Promise<void>;
  hasConversation(uid: string, other: string): Promise<boolean>;
  readMark(uid: string, place: string): Promise<{ epoch: string; mid: number } | undefined>;
  setReadMark(uid: string, place: string, epoch: string, mid: number): Promise<void>;
  /**
   * Deletes every message written before `before` (ms), with its changes and
   * reactions (RETENTION_DAYS); resolves with how many messages went.
   */
  purge(before: number): Promise<number>;
  /** Forgets users not used since `before` (ms), with their rooms, conversations and read marks. */
  forgetUsers(before: number): Promise<number>;
  /** A named value kept once: the one kept, or else `proposed`, which is then kept. */
  setting(name: string, proposed: string): Promise<string>;
  /**
   * Runs `fn` on the archive's database in turn with the archive's own
   * statements, for the stores that keep their tables beside it (accounts):
   * one connection serves both, so neither may cut into the other's transaction.
   */
  sql<T>(fn: (db: SqlDriver) => Promise<T>): Promise<T>;

  /** Resolves once the database answers; rejects while it cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The archive cannot be used: one line that says why, for the operator. */
export class ArchiveError extends Error {}
