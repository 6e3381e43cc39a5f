import type { Role, Visibility } from "../protocol/rooms.js";

/** A room as kept: `id` never changes; the rest its owner may change (a private room stays private). */
export interface RoomRecord {
  id: string;
  name: string;
  topic: string;
  visibility: Visibility;
  /** Absent for the lobby and rooms a `join` made: the server's admins hold those. */
  creator: string | undefined;
  created: number;
  /** How many times it was changed: two nodes may announce two changes in either order. */
  version: number;
}

export type RoomChange = Partial<Pick<RoomRecord, "name" | "topic" | "visibility">>;

/** Someone who belongs to a room, online or not, with the name they had when last seen there. */
export interface MemberRecord {
  uid: string;
  name: string;
  role: Role;
}

export interface Page<T> {
  items: T[];
  /** Where the next page starts; absent on the last. */
  next: string | undefined;
}

/** An invitation link, kept by the hash of its token: a copy of the store lets nobody in. */
export interface LinkRecord {
  room: string;
  by: string;
  usesLeft: number;
  expires: number;
}

/**
 * Where a room's rules live: what it is, who belongs to it with which role,
 * and the invitations into it. The system of record: the archive's
 * database (embedded SQLite or PostgreSQL) where there is one, else Redis.
 * Nothing on a message's path reads it: a node keeps what its sessions need
 * (chat/room-rules.ts) and hears of changes over the bus.
 */
export interface RoomStore {
  get(id: string): Promise<RoomRecord | undefined>;
  /** Keeps a new room, its creator (when it has one) as its owner; false when the id is taken. */
  create(room: RoomRecord, owner: { uid: string; name: string } | undefined): Promise<boolean>;
  /**
   * A room a `join` made was used: where the store forgets such rooms with
   * their messages (Redis without a database), it keeps this one a while longer.
   */
  touch(id: string): Promise<void>;
  /** Rooms `uid` created that still exist. */
  createdBy(uid: string): Promise<number>;
  /** Changes a room and counts the change, in one step; the room as it is after, undefined when there is none. */
  update(id: string, change: RoomChange): Promise<RoomRecord | undefined>;
  /** Public and read-only rooms by name, those whose name holds `q` (folded) when given. */
  directory(q: string | undefined, after: string | undefined, limit: number): Promise<Page<RoomRecord>>;

  member(room: string, uid: string): Promise<MemberRecord | undefined>;
  /** Adds or changes a member. */
  setMember(room: string, member: MemberRecord): Promise<void>;
  removeMember(room: string, uid: string): Promise<void>;
  /** Members by name. */
  members(room: string, after: string | undefined, limit: number): Promise<Page<MemberRecord>>;

  /** Invites `uid` until `expires`; a `join` before then takes the invitation (takeInvitation). */
  invite(room: string, uid: string, expires: number): Promise<void>;
  /** True, once, when `uid` holds an invitation into `room` that has not expired. */
  takeInvitation(room: string, uid: string, now: number): Promise<boolean>;
  addLink(hash: string, link: LinkRecord): Promise<void>;
  /** The room of a link that can still be used, without using it; undefined when spent, expired or unknown. */
  linkRoom(hash: string, now: number): Promise<string | undefined>;
  /** Counts one use of a link, exactly once however many redeem it at once: its room, or undefined when spent, expired or unknown. */
  redeemLink(hash: string, now: number): Promise<string | undefined>;
  /** Invitations and links into `room` not yet spent or expired. */
  outstanding(room: string, now: number): Promise<number>;
}
