import type { Logger } from "pino";
import type { RedisKeys } from "../bus/redis-keys.js";
import type { RedisLink } from "../bus/redis-link.js";
import { nodeOf } from "../chat/hub.js";
import type { Member, Presence } from "./presence.js";

export interface RedisPresenceOptions {
  nodeId: string;
  /** Milliseconds without a heartbeat after which a node counts as dead. */
  ttlMs: number;
  /** Told which members a dead node left behind, so their departure can be announced. */
  onReaped(room: string, members: Member[]): void;
}

/**
 * Room membership in Redis: one hash per room (connection id → name). Each
 * node keeps a heartbeat in a sorted set; every node looks for peers whose
 * heartbeat is older than the TTL, and whoever claims a dead node first
 * removes its members and announces them gone. Each node also mirrors what it
 * wrote, and writes it again after every reconnect, so presence survives an
 * outage or a Redis that lost its data.
 */
export class RedisPresence implements Presence {
  private readonly mirror = new Map<string, Map<string, string>>();
  private lastWarning = 0;
  /** No node is declared dead before this: right after an outage every heartbeat is stale. */
  private reapAfter = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly options: RedisPresenceOptions,
    private readonly log: Logger,
  ) {
    const every = Math.max(500, Math.floor(options.ttlMs / 3));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    link.on("up", () => void this.restore());
  }

  /** Clears what an earlier process with this node id left (it has no members yet), then starts beating. */
  async start(): Promise<void> {
    await this.reapNode(this.options.nodeId);
    await this.beat();
  }

  async add(room: string, member: Member): Promise<void> {
    let members = this.mirror.get(room);
    const firstHere = !members;
    if (!members) {
      members = new Map();
      this.mirror.set(room, members);
    }
    members.set(member.id, member.name);
    if (!this.link.isUp) return;
    const hset = this.link.pub.hset(this.keys.roomMembers(room), member.id, member.name);
    // The node's room list changes only with its first member there; restore() repairs it after an outage.
    // Two commands, not a transaction: in a cluster the two keys live on different shards.
    const writes = firstHere ? [hset, this.link.pub.sadd(this.keys.nodeRooms(this.options.nodeId), room)] : [hset];
    await Promise.all(writes).catch((err: unknown) => this.writeFailed(err));
  }

  /**
   * Presence is kept in this node's mirror too: a write Redis refuses (out
   * of memory, read-only) leaves the member out of other nodes' lists until
   * the next reconnect, and the chat goes on. Logged once in ten seconds.
   */
  private writeFailed(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.log.warn({ err }, "Redis refused a presence write; other nodes may not list a member for now");
  }

  async remove(room: string, id: string): Promise<void> {
    const members = this.mirror.get(room);
    members?.delete(id);
    const lastHere = members?.size === 0;
    if (lastHere) this.mirror.delete(room);
    if (!this.link.isUp) return;
    const hdel = this.link.pub.hdel(this.keys.roomMembers(room), id);
    // The node's room list loses a room with the node's last member there: it never grows without end.
    const writes = lastHere ? [hdel, this.link.pub.srem(this.keys.nodeRooms(this.options.nodeId), room)] : [hdel];
    await Promise.all(writes).catch((err: unknown) => this.writeFailed(err));
  }

  async list(room: string): Promise<Member[]> {
    if (!this.link.isUp) return this.localList(room);
    try {
      const all = await this.link.pub.hgetall(this.keys.roomMembers(room));
      return Object.entries(all).map(([id, name]) => ({ id, name }));
    } catch {
      return this.localList(room);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (!this.link.isUp) return;
    // A clean exit leaves nothing for the reaper.
    await this.reapNode(this.options.nodeId).catch(() => undefined);
    await this.link.pub.zrem(this.keys.nodes(), this.options.nodeId).catch(() => undefined);
  }

  private localList(room: string): Member[] {
    return [...(this.mirror.get(room) ?? new Map<string, string>())].map(([id, name]) => ({ id, name }));
  }

  private async beat(): Promise<void> {
    await this.link.pub.zadd(this.keys.nodes(), Date.now(), this.options.nodeId);
  }

  private async tick(): Promise<void> {
    if (!this.link.isUp) return;
    try {
      try {
        await this.beat();
      } catch (err) {
        // While this node cannot beat, the others likely cannot either: a silent peer proves nothing, now or
        // for one TTL after the beats come back.
        this.reapAfter = Date.now() + this.options.ttlMs;
        this.writeFailed(err);
        return;
      }
      if (Date.now() < this.reapAfter) return;
      const dead = await this.link.pub.zrangebyscore(this.keys.nodes(), "-inf", Date.now() - this.options.ttlMs);
      for (const node of dead) {
        if (node === this.options.nodeId) continue;
        // Only the node whose ZREM removes the entry cleans up, so departures are announced once.
        if ((await this.link.pub.zrem(this.keys.nodes(), node)) === 1) {
          this.log.warn({ deadNode: node }, "a node stopped beating; removing its users");
          await this.reapNode(node);
        }
      }
    } catch (err) {
      this.log.debug({ err }, "presence heartbeat failed");
    }
  }

  /** Removes every member a node registered, and reports them. */
  private async reapNode(node: string): Promise<void> {
    const roomsKey = this.keys.nodeRooms(node);
    const rooms = await this.link.pub.smembers(roomsKey);
    for (const room of rooms) {
      const all = await this.link.pub.hgetall(this.keys.roomMembers(room));
      const gone = Object.entries(all)
        .filter(([id]) => nodeOf(id) === node)
        .map(([id, name]) => ({ id, name }));
      if (gone.length === 0) continue;
      await this.link.pub.hdel(this.keys.roomMembers(room), ...gone.map((m) => m.id));
      this.options.onReaped(room, gone);
    }
    if (node !== this.options.nodeId) await this.link.pub.del(roomsKey);
  }

  /** After a reconnect: write this node's members again and drop what it no longer has. */
  private async restore(): Promise<void> {
    this.reapAfter = Date.now() + this.options.ttlMs;
    try {
      await this.beat();
      const rooms = new Set([
        ...this.mirror.keys(),
        ...(await this.link.pub.smembers(this.keys.nodeRooms(this.options.nodeId))),
      ]);
      for (const room of rooms) {
        const key = this.keys.roomMembers(room);
        const stored = await this.link.pub.hgetall(key);
        const mine = this.mirror.get(room) ?? new Map<string, string>();
        const stale = Object.keys(stored).filter((id) => nodeOf(id) === this.options.nodeId && !mine.has(id));
        if (stale.length > 0) await this.link.pub.hdel(key, ...stale);
        if (mine.size > 0) {
          await this.link.pub.hset(key, Object.fromEntries(mine));
          await this.link.pub.sadd(this.keys.nodeRooms(this.options.nodeId), room);
        }
      }
    } catch (err) {
      this.log.warn({ err }, "could not restore presence after reconnecting");
    }
  }
}
