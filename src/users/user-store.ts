/**
 * What is kept of a person between connections: their name, the rooms they
 * are in, the people they have conversations with, and how far they have
 * read. The seam between the embedded store and the Redis one; only users
 * who can come back as themselves (a token, or a `proto=2` guest) are kept.
 */

/** How far a user has read a room or a conversation: a mid of one lifetime (epoch) of its history. */
export interface ReadMark {
  epoch: string;
  mid: number;
}

export interface UserRecord {
  name: string | undefined;
  rooms: string[];
  /** The other users, most recent conversation first. */
  conversations: { uid: string; name: string }[];
}

/** What keeping a user in a room did: `added` it, found it kept `already`, or `refused` it (the user has as many as allowed). */
export type AddedRoom = "added" | "already" | "refused";

export interface UserStore {
  /** What is kept of a user; keeps it USER_IDLE_TTL longer. */
  load(uid: string): Promise<UserRecord>;
  setName(uid: string, name: string): Promise<void>;
  nameOf(uid: string): Promise<string | undefined>;
  /** The rooms the user is kept in. */
  roomsOf(uid: string): Promise<string[]>;
  /**
   * Keeps the user in one more room, in one step on every node, unless they
   * are kept in `most` already (0: no limit).
   */
  addRoom(uid: string, room: string, most: number): Promise<AddedRoom>;
  removeRoom(uid: string, room: string): Promise<void>;
  /** Each of the two now has a conversation with the other, last written at `ts`. */
  touchConversation(a: string, b: string, ts: number): Promise<void>;
  /** Whether `uid` has (still keeps) a conversation with `other`. */
  hasConversation(uid: string, other: string): Promise<boolean>;
  /**
   * Counts a first direct message to `uid` from someone it has no
   * conversation with, on every node: 0 while there were at most `max` in
   * this minute, else the seconds until the minute ends.
   */
  countFirstContact(uid: string, max: number): Promise<number>;
  /** `place` is a room's name or `@` and the other user's id. */
  readMark(uid: string, place: string): Promise<ReadMark | undefined>;
  /** Moves the mark forward (a mark of another epoch is replaced); true when it moved. */
  markRead(uid: string, place: string, mark: ReadMark): Promise<boolean>;
  /**
   * The secret guest identities are signed with, the same on every node: the
   * one kept, or else `proposed` (a node's own, after the store lost its data)
   * or a new one, which is then kept.
   */
  guestSecret(proposed?: string): Promise<string>;
  close(): Promise<void>;
}

/** The store is out of reach right now (Redis away); the operation did not happen. */
export class UserStoreUnavailable extends Error {
  constructor() {
    super("the user store is out of reach");
  }
}

/** The window FIRST_DMS_PER_RECIPIENT counts in. */
export const FIRST_CONTACT_SECONDS = 60;

/** Conversations a user's record lists at most. */
export const CONVERSATIONS_LISTED = 50;

/** Whether `next` is further than `current`: any mark of another epoch is (that history started over). */
export function isFurther(current: ReadMark | undefined, next: ReadMark): boolean {
  return current === undefined || current.epoch !== next.epoch || next.mid > current.mid;
}
