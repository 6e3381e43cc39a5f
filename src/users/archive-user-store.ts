import { randomBytes } from "node:crypto";
import type { Archive } from "../archive/archive.js";
import { FirstContacts } from "./first-contacts.js";
import {
  type AddedRoom,
  CONVERSATIONS_LISTED,
  isFurther,
  type ReadMark,
  type UserRecord,
  type UserStore,
} from "./user-store.js";

/**
 * Users kept in the archive, beside their messages: the embedded default
 * and PostgreSQL keep people, rooms and conversations in one place, so a
 * restart keeps everything a user had. Forgotten USER_IDLE_TTL after their last use, as in Redis.
 */
export class ArchiveUserStore implements UserStore {
  /** First contacts of each user in the current minute: a rate, not a record, so not archived. */
  private readonly firstContacts = new FirstContacts();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly archive: Archive,
    private readonly idleMs: number,
  ) {
    this.sweeper = setInterval(() => this.forgetIdle(), Math.min(60_000, Math.max(1000, idleMs / 2)));
    this.sweeper.unref();
  }

  load(uid: string): Promise<UserRecord> {
    return this.archive.loadUser(uid, CONVERSATIONS_LISTED);
  }

  setName(uid: string, name: string): Promise<void> {
    return this.archive.setName(uid, name);
  }

  nameOf(uid: string): Promise<string | undefined> {
    return this.archive.nameOf(uid);
  }

  roomsOf(uid: string): Promise<string[]> {
    return this.archive.roomsOf(uid);
  }

  addRoom(uid: string, room: string, most: number): Promise<AddedRoom> {
    return this.archive.addRoom(uid, room, most);
  }

  removeRoom(uid: string, room: string): Promise<void> {
    return this.archive.removeRoom(uid, room);
  }

  touchConversation(a: string, b: string, ts: number): Promise<void> {
    return this.archive.touchConversation(a, b, ts);
  }

  hasConversation(uid: string, other: string): Promise<boolean> {
    return this.archive.hasConversation(uid, other);
  }

  async countFirstContact(uid: string, max: number): Promise<number> {
    return this.firstContacts.count(uid, max);
  }

  readMark(uid: string, place: string): Promise<ReadMark | undefined> {
    return this.archive.readMark(uid, place);
  }

  async markRead(uid: string, place: string, mark: ReadMark): Promise<boolean> {
    // One process writes this archive (PostgreSQL goes with no second node yet), so read-then-write cannot race.
    if (!isFurther(await this.archive.readMark(uid, place), mark)) return false;
    await this.archive.setReadMark(uid, place, mark.epoch, mark.mid);
    return true;
  }

  guestSecret(proposed?: string): Promise<string> {
    return this.archive.setting("guest_secret", proposed ?? randomBytes(32).toString("hex"));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private forgetIdle(): void {
    const now = Date.now();
    this.firstContacts.sweep();
    this.archive.forgetUsers(now - this.idleMs).catch(() => undefined);
  }
}
