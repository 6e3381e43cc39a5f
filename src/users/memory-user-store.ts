import { randomBytes } from "node:crypto";
import { FirstContacts } from "./first-contacts.js";
import {
  type AddedRoom,
  CONVERSATIONS_LISTED,
  isFurther,
  type ReadMark,
  type UserRecord,
  type UserStore,
} from "./user-store.js";

interface Kept {
  name: string | undefined;
  rooms: Set<string>;
  /** Other user → time of the last message. */
  conversations: Map<string, number>;
  read: Map<string, ReadMark>;
  lastUsed: number;
}

/** The embedded store: kept in this process, forgotten USER_IDLE_TTL after a user's last use. */
export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, Kept>();
  /** First contacts of each user in the current minute, and when it ends. */
  private readonly firstContacts = new FirstContacts();
  private readonly secret = randomBytes(32).toString("hex");
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly idleMs: number) {
    this.sweeper = setInterval(() => this.forgetIdle(), Math.min(60_000, Math.max(1000, idleMs / 2)));
    this.sweeper.unref();
  }

  async load(uid: string): Promise<UserRecord> {
    // Loading keeps nothing new: a guest that has done nothing worth keeping is not kept.
    const kept = this.users.get(uid);
    if (!kept) return { name: undefined, rooms: [], conversations: [] };
    kept.lastUsed = Date.now();
    const conversations = [...kept.conversations]
      .sort((a, b) => b[1] - a[1])
      .slice(0, CONVERSATIONS_LISTED)
      .map(([other]) => ({ uid: other, name: this.users.get(other)?.name ?? other }));
    return { name: kept.name, rooms: [...kept.rooms], conversations };
  }

  async setName(uid: string, name: string): Promise<void> {
    this.get(uid).name = name;
  }

  async nameOf(uid: string): Promise<string | undefined> {
    return this.users.get(uid)?.name;
  }

  async roomsOf(uid: string): Promise<string[]> {
    return [...(this.users.get(uid)?.rooms ?? [])];
  }

  async addRoom(uid: string, room: string, most: number): Promise<AddedRoom> {
    const rooms = this.get(uid).rooms;
    if (rooms.has(room)) return "already";
    if (most > 0 && rooms.size >= most) return "refused";
    rooms.add(room);
    return "added";
  }

  async removeRoom(uid: string, room: string): Promise<void> {
    this.get(uid).rooms.delete(room);
  }

  async touchConversation(a: string, b: string, ts: number): Promise<void> {
    this.get(a).conversations.set(b, ts);
    this.get(b).conversations.set(a, ts);
  }

  async hasConversation(uid: string, other: string): Promise<boolean> {
    return this.users.get(uid)?.conversations.has(other) ?? false;
  }

  async countFirstContact(uid: string, max: number): Promise<number> {
    return this.firstContacts.count(uid, max);
  }

  async readMark(uid: string, place: string): Promise<ReadMark | undefined> {
    return this.users.get(uid)?.read.get(place);
  }

  async markRead(uid: string, place: string, mark: ReadMark): Promise<boolean> {
    const read = this.get(uid).read;
    if (!isFurther(read.get(place), mark)) return false;
    read.set(place, mark);
    return true;
  }

  async guestSecret(): Promise<string> {
    return this.secret;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private get(uid: string): Kept {
    let kept = this.users.get(uid);
    if (!kept) {
      kept = { name: undefined, rooms: new Set(), conversations: new Map(), read: new Map(), lastUsed: 0 };
      this.users.set(uid, kept);
    }
    kept.lastUsed = Date.now();
    return kept;
  }

  private forgetIdle(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [uid, kept] of this.users) if (kept.lastUsed < cutoff) this.users.delete(uid);
    this.firstContacts.sweep();
  }
}
