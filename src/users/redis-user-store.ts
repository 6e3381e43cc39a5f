import { randomBytes } from "node:crypto";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import { isTransient } from "../redis/transient-errors.js";
import {
  type AddedRoom,
  CONVERSATIONS_LISTED,
  FIRST_CONTACT_SECONDS,
  type ReadMark,
  type UserRecord,
  type UserStore,
  UserStoreUnavailable,
} from "./user-store.js";

/**
 * Users in Redis: per user, a name, a set of rooms, a sorted set of the
 * users they have conversations with and a hash of read marks, all under
 * one hash tag (one Cluster slot), each kept USER_IDLE_TTL after its last use.
 */
export class RedisUserStore implements UserStore {
  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly idleSeconds: number,
  ) {}

  private userKeys(uid: string): string[] {
    const k = this.keys;
    return [k.userName(uid), k.userRooms(uid), k.userConversations(uid), k.userRead(uid)];
  }

  load(uid: string): Promise<UserRecord> {
    return this.command(async () => {
      const k = this.keys;
      const pub = this.link.pub;
      const [name, rooms, others] = await Promise.all([
        pub.get(k.userName(uid)),
        pub.smembers(k.userRooms(uid)),
        pub.zrevrange(k.userConversations(uid), 0, CONVERSATIONS_LISTED - 1),
      ]);
      await Promise.all(this.userKeys(uid).map((key) => pub.expire(key, this.idleSeconds)));
      // Each user's name lives in that user's slot: read one by one, not with MGET.
      const names = await Promise.all(others.map((other) => pub.get(k.userName(other))));
      const conversations = others.map((other, i) => ({ uid: other, name: names[i] ?? other }));
      return { name: name ?? undefined, rooms, conversations };
    });
  }

  setName(uid: string, name: string): Promise<void> {
    return this.command(async () => {
      await this.link.pub.set(this.keys.userName(uid), name, "EX", this.idleSeconds);
    });
  }

  nameOf(uid: string): Promise<string | undefined> {
    return this.command(async () => {
      return (await this.link.pub.get(this.keys.userName(uid))) ?? undefined;
    });
  }

  roomsOf(uid: string): Promise<string[]> {
    return this.command(() => this.link.pub.smembers(this.keys.userRooms(uid)));
  }

  addRoom(uid: string, room: string, most: number): Promise<AddedRoom> {
    return this.command(async () => {
      const done = await this.link.pub.chatUserAddRoom(this.keys.userRooms(uid), room, most, this.idleSeconds);
      return (["refused", "already", "added"] as const)[Number(done)] ?? "refused";
    });
  }

  removeRoom(uid: string, room: string): Promise<void> {
    return this.command(async () => {
      await this.link.pub.srem(this.keys.userRooms(uid), room);
    });
  }

  touchConversation(a: string, b: string, ts: number): Promise<void> {
    return this.command(async () => {
      const pairs: [string, string][] = [
        [a, b],
        [b, a],
      ];
      await Promise.all(
        pairs.map(async ([one, other]) => {
          const key = this.keys.userConversations(one);
          await Promise.all([this.link.pub.zadd(key, ts, other), this.link.pub.expire(key, this.idleSeconds)]);
        }),
      );
    });
  }

  hasConversation(uid: string, other: string): Promise<boolean> {
    return this.command(async () => {
      return (await this.link.pub.zscore(this.keys.userConversations(uid), other)) !== null;
    });
  }

  countFirstContact(uid: string, max: number): Promise<number> {
    return this.command(async () => {
      const key = this.keys.userFirstContacts(uid);
      // The window starts with its first contact and is not moved by the ones after.
      const replies = await this.link.pub.multi().incr(key).expire(key, FIRST_CONTACT_SECONDS, "NX").ttl(key).exec();
      const count = Number(replies?.[0]?.[1]);
      const ttl = Number(replies?.[2]?.[1]);
      return count <= max ? 0 : Math.max(1, ttl);
    });
  }

  readMark(uid: string, place: string): Promise<ReadMark | undefined> {
    return this.command(async () => {
      const value = await this.link.pub.hget(this.keys.userRead(uid), place);
      const match = value === null ? null : /^(.*):(\d+)$/.exec(value);
      return match ? { epoch: match[1] ?? "", mid: Number(match[2]) } : undefined;
    });
  }

  markRead(uid: string, place: string, mark: ReadMark): Promise<boolean> {
    return this.command(async () => {
      const moved = await this.link.pub.chatMarkRead(
        this.keys.userRead(uid),
        place,
        mark.epoch,
        mark.mid,
        this.idleSeconds,
      );
      return Number(moved) === 1;
    });
  }

  /** One secret for every node: the first to ask makes it (SET NX), and Redis keeps it. */
  async guestSecret(proposed?: string): Promise<string> {
    const key = this.keys.guestSecret();
    await this.link.pub.set(key, proposed ?? randomBytes(32).toString("hex"), "NX");
    const secret = await this.link.pub.get(key);
    if (secret === null) throw new Error("the guest secret vanished from Redis");
    return secret;
  }

  async close(): Promise<void> {}

  /** Runs against Redis; no Redis, or a "not now" from it, becomes UserStoreUnavailable. */
  private async command<T>(run: () => Promise<T>): Promise<T> {
    if (!this.link.ready) throw new UserStoreUnavailable();
    try {
      return await run();
    } catch (err) {
      if (!this.link.ready || isTransient(err)) throw new UserStoreUnavailable();
      throw err;
    }
  }
}
