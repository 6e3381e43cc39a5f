import type { RedisLink } from "../redis/redis-link.js";
import { isTransient } from "../redis/transient-errors.js";
import {
  type BlockedUser,
  LIST_KEPT,
  type Logged,
  type ModerationStore,
  ModerationUnavailable,
  REPORT_WINDOW_SECONDS,
  type RoomList,
  type RoomModeration,
  type Sanction,
  type SanctionKind,
} from "./moderation-store.js";

/**
 * Moderation in Redis, for nodes scaled out through it: a room's keys share
 * one hash tag (`{prefix:mod:<room>}`), a user's theirs (`{prefix:user:<uid>}`,
 * beside the user store's), so each step is within one Cluster slot. What
 * expires: slow-mode turns, report windows, and a room's bans and mutes
 * once the last of them ends (none lasts for good); blocks and the rest
 * are rules people rely on, not caches.
 */
export class RedisModerationStore implements ModerationStore {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
  ) {}

  private roomKey(room: string, what: string): string {
    return `${this.prefix}:{${this.prefix}:mod:${room}}:${what}`;
  }

  private userKey(uid: string, what: string): string {
    return `${this.prefix}:{${this.prefix}:user:${uid}}:${what}`;
  }

  room(room: string): Promise<RoomModeration> {
    return this.command(async () => {
      const pub = this.link.pub;
      // One script, not two reads: every join asks.
      const [all, rules] = await pub.chatModerationRoom(this.roomKey(room, "sanctions"), this.roomKey(room, "rules"));
      const now = Date.now();
      const sanctions: Sanction[] = [];
      const ended: string[] = [];
      for (let i = 0; i + 1 < all.length; i += 2) {
        const field = all[i] as string;
        const value = all[i + 1];
        const colon = field.indexOf(":");
        const until = Number(value) === 0 ? undefined : Number(value);
        if (until !== undefined && until <= now) ended.push(field);
        else sanctions.push({ kind: field.startsWith("ban:") ? "ban" : "mute", uid: field.slice(colon + 1), until });
      }
      if (ended.length > 0) await pub.hdel(this.roomKey(room, "sanctions"), ...ended);
      return { sanctions, slow: Number(rules[0] ?? 0), pinned: rules[1] ?? undefined, version: Number(rules[2] ?? 0) };
    });
  }

  sanction(room: string, s: Sanction): Promise<void> {
    return this.command(async () => {
      await this.link.pub.chatSanctionSet(this.roomKey(room, "sanctions"), `${s.kind}:${s.uid}`, s.until ?? 0);
    });
  }

  lift(room: string, uid: string, kind: SanctionKind): Promise<void> {
    return this.command(async () => {
      await this.link.pub.chatSanctionSet(this.roomKey(room, "sanctions"), `${kind}:${uid}`, "");
    });
  }

  setSlow(room: string, seconds: number): Promise<void> {
    return this.command(async () => {
      const key = this.roomKey(room, "rules");
      // One transaction: a reading never sees the change without its version, nor the version without the change.
      await this.link.pub.multi().hset(key, "slow", String(seconds)).hincrby(key, "version", 1).exec();
    });
  }

  setPinned(room: string, json: string | undefined): Promise<void> {
    return this.command(async () => {
      const key = this.roomKey(room, "rules");
      const change = this.link.pub.multi();
      if (json === undefined) change.hdel(key, "pinned");
      else change.hset(key, "pinned", json);
      await change.hincrby(key, "version", 1).exec();
    });
  }

  append(room: string, list: RoomList, entry: (id: number) => string): Promise<number> {
    return this.command(async () => {
      const id = await this.link.pub.incr(this.roomKey(room, `${list}:seq`));
      const key = this.roomKey(room, list);
      await this.link.pub.zadd(key, id, entry(id));
      await this.link.pub.zremrangebyrank(key, 0, -LIST_KEPT - 1);
      return id;
    });
  }

  page(room: string, list: RoomList, before: number | undefined, limit: number): Promise<Logged[]> {
    return this.command(async () => {
      const max = before === undefined ? "+inf" : `(${before}`;
      const flat = await this.link.pub.zrevrangebyscore(
        this.roomKey(room, list),
        max,
        "-inf",
        "WITHSCORES",
        "LIMIT",
        0,
        limit,
      );
      const entries: Logged[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ json: flat[i] ?? "", id: Number(flat[i + 1]) });
      return entries;
    });
  }

  slowTurn(room: string, uid: string, seconds: number): Promise<number> {
    return this.command(async () => {
      const key = this.roomKey(room, `turn:${uid}`);
      // The turn is taken by whichever node's SET lands first; the others are told how long it has left.
      if ((await this.link.pub.set(key, "1", "EX", seconds, "NX")) === "OK") return 0;
      return Math.max(1, await this.link.pub.ttl(key));
    });
  }

  countReport(uid: string, max: number): Promise<number> {
    return this.command(async () => {
      const key = this.userKey(uid, "reports");
      // The window starts with its first report and is not moved by the ones after.
      const replies = await this.link.pub.multi().incr(key).expire(key, REPORT_WINDOW_SECONDS, "NX").ttl(key).exec();
      const count = Number(replies?.[0]?.[1]);
      const ttl = Number(replies?.[2]?.[1]);
      return count <= max ? 0 : Math.max(1, ttl);
    });
  }

  blocksOf(uid: string): Promise<BlockedUser[]> {
    return this.command(async () => {
      const all = await this.link.pub.hgetall(this.userKey(uid, "blocks"));
      return Object.entries(all)
        .map(([other, name]) => ({ uid: other, name }))
        .sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  block(uid: string, other: BlockedUser): Promise<void> {
    return this.command(async () => {
      await this.link.pub.hset(this.userKey(uid, "blocks"), other.uid, other.name);
    });
  }

  unblock(uid: string, other: string): Promise<void> {
    return this.command(async () => {
      await this.link.pub.hdel(this.userKey(uid, "blocks"), other);
    });
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    if (!this.link.ready) throw new ModerationUnavailable();
    try {
      return await run();
    } catch (err) {
      if (!this.link.ready || isTransient(err)) throw new ModerationUnavailable();
      throw err;
    }
  }
}
