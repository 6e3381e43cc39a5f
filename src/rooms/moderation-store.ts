/**
 * What moderation keeps: per room, who is banned or muted and until when,
 * its slow mode and pinned message, the log of what its moderators did and
 * the reports its members made; per user, whom they blocked. The seam
 * between the SQL store (the archive's database) and the Redis one.
 */

/** Entries a room's moderation log, and its reports, keep: a moderator pages through months, and nobody fills a store with them. */
export const LIST_KEPT = 1000;

export type SanctionKind = "ban" | "mute";

/** A ban or mute; `until` in ms since the epoch, undefined for one that lasts until lifted. */
export interface Sanction {
  uid: string;
  kind: SanctionKind;
  until: number | undefined;
}

/** A room's moderation state, as every node caches it for the post path. */
export interface RoomModeration {
  /** The sanctions still running. */
  sanctions: Sanction[];
  /** Seconds between two messages of one person; 0 for none. */
  slow: number;
  /** The pinned message's frame as stored, JSON; undefined for none. */
  pinned: string | undefined;
  /** How many times slow mode or the pin changed: read with them, so it says which of two readings is newer. */
  version: number;
}

/** One entry of a room's moderation log or of its reports, as kept: the id is the store's, the rest a JSON object. */
export interface Logged {
  id: number;
  json: string;
}

/** Someone a user blocked, under the name they had then. */
export interface BlockedUser {
  uid: string;
  name: string;
}

/** The two lists a room keeps, each paged newest first. */
export type RoomList = "modlog" | "reports";

export interface ModerationStore {
  room(room: string): Promise<RoomModeration>;
  /** Bans or mutes `uid` in `room` until `until` (undefined: until lifted), replacing one of the same kind. */
  sanction(room: string, s: Sanction): Promise<void>;
  lift(room: string, uid: string, kind: SanctionKind): Promise<void>;
  setSlow(room: string, seconds: number): Promise<void>;
  setPinned(room: string, json: string | undefined): Promise<void>;
  /**
   * Adds to a room's log or reports; `entry(id)` is what is kept, given the id the store chose. Resolves with it.
   * Each keeps its newest LIST_KEPT entries: older ones go as new ones come.
   */
  append(room: string, list: RoomList, entry: (id: number) => string): Promise<number>;
  /** Entries with an id below `before` (all, without it), newest first, at most `limit`. */
  page(room: string, list: RoomList, before: number | undefined, limit: number): Promise<Logged[]>;
  /**
   * Counts one message of `uid` in a slow room, on every node: 0 when it may
   * post (and its next turn is `seconds` away), else the seconds to wait.
   */
  slowTurn(room: string, uid: string, seconds: number): Promise<number>;
  /** Counts a report by `uid`: 0 while it made at most `max` this hour, else the seconds until the hour ends. */
  countReport(uid: string, max: number): Promise<number>;
  blocksOf(uid: string): Promise<BlockedUser[]>;
  block(uid: string, other: BlockedUser): Promise<void>;
  unblock(uid: string, other: string): Promise<void>;
}

/** The window REPORTS_PER_HOUR counts in. */
export const REPORT_WINDOW_SECONDS = 3600;

/** The sanctions of `kind` still running at `now`. */
export function running(m: RoomModeration, uid: string, kind: SanctionKind, now: number): Sanction | undefined {
  return m.sanctions.find((s) => s.uid === uid && s.kind === kind && (s.until === undefined || s.until > now));
}

/** The store is out of reach right now (Redis away); the operation did not happen. */
export class ModerationUnavailable extends Error {
  constructor() {
    super("the moderation store is out of reach");
  }
}
