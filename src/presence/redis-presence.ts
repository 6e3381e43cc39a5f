import type { Logger } from "pino";
import { nodeOf } from "../ids/connection-id.js";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type { Member, Presence, PresenceHandler } from "./presence.js";

export interface RedisPresenceOptions {
  nodeId: string;
  /** Milliseconds without a heartbeat after which a node counts as dead. */
  ttlMs: number;
}

/**
 * Presence in Redis: one hash per room (connection id → name) and one per
 * node (its connections, for other nodes to find). Each node keeps a
 * heartbeat in a sorted set; every node looks for peers whose heartbeat is
 * older than the TTL, and whoever claims a dead node first removes what it
 * left and reports its members gone. Each node also mirrors what it wrote,
 * and writes it again after every reconnect, so presence survives an outage
 * or a Redis that lost its data.
 */
export class RedisPresence implements Presence {
  private handler: PresenceHandler | undefined;
  private readonly rooms = new Map<string, Map<string, string>>();
  private readonly connections = new Map<string, string>();
  private lastWarning = 0;
  /** No node is declared dead before this: right after an outage every heartbeat is stale. */
  private reapAfter = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly options: RedisPresenceOptions,
    private readonly log: Logger,
  ) {}

  /** Clears what an earlier process with this node id left (it has no members yet), then starts beating. */
  async start(handler: PresenceHandler): Promise<void> {
    this.handler = handler;
    // Redis may itself have just come back, with every node's last beat stale: wait one TTL before judging.
    this.reapAfter = Date.now() + this.options.ttlMs;
    await this.reapNode(this.options.nodeId);
    await this.beat();
    this.timer = setInterval(() => void this.tick(), Math.max(500, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
    this.link.on("up", () => void this.restore());
  }

  private get self(): string {
    return this.options.nodeId;
  }

  async connect(member: Member): Promise<void> {
    this.connections.set(member.id, member.name);
    if (!this.link.isUp) return;
    await this.link.pub
      .hset(this.keys.nodeConnections(this.self), member.id, member.name)
      .catch((err: unknown) => this.writeFailed(err));
  }

  async disconnect(id: string): Promise<void> {
    this.connections.delete(id);
    if (!this.link.isUp) return;
    await this.link.pub.hdel(this.keys.nodeConnections(this.self), id).catch((err: unknown) => this.writeFailed(err));
  }

  async find(id: string): Promise<Member | undefined> {
    const node = nodeOf(id);
    if (node === undefined) return undefined;
    if (!this.link.ready) throw new Error("Redis is out of reach");
    const name = await this.link.pub.hget(this.keys.nodeConnections(node), id);
    return name === null ? undefined : { id, name };
  }

  async add(room: string, member: Member): Promise<void> {
    let members = this.rooms.get(room);
    const firstHere = !members;
    if (!members) {
      members = new Map();
      this.rooms.set(room, members);
    }
    members.set(member.id, member.name);
    if (!this.link.isUp) return;
    const hset = this.link.pub.hset(this.keys.roomMembers(room), member.id, member.name);
    // The node's room list changes only with its first member there; restore() repairs it after an outage.
    // Two commands, not a transaction: in a cluster the two keys live on different shards.
    const writes = firstHere ? [hset, this.link.pub.sadd(this.keys.nodeRooms(this.self), room)] : [hset];
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
    const members = this.rooms.get(room);
    members?.delete(id);
    const lastHere = members?.size === 0;
    if (lastHere) this.rooms.delete(room);
    if (!this.link.isUp) return;
    const hdel = this.link.pub.hdel(this.keys.roomMembers(room), id);
    // The node's room list loses a room with the node's last member there: it never grows without end.
    const writes = lastHere ? [hdel, this.link.pub.srem(this.keys.nodeRooms(this.self), room)] : [hdel];
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
    await this.reapNode(this.self).catch(() => undefined);
    await this.link.pub.zrem(this.keys.nodes(), this.self).catch(() => undefined);
  }

  private localList(room: string): Member[] {
    return [...(this.rooms.get(room) ?? new Map<string, string>())].map(([id, name]) => ({ id, name }));
  }

  private async beat(): Promise<void> {
    await this.link.pub.zadd(this.keys.nodes(), Date.now(), this.self);
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
        if (node === this.self) continue;
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

  /** Removes every member and connection a node registered, and reports the members gone. */
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
      this.handler?.onGone(room, gone);
    }
    await this.link.pub.del(this.keys.nodeConnections(node));
    if (node !== this.self) await this.link.pub.del(roomsKey);
  }

  /** After a reconnect: write this node's rooms and connections again, and drop what it no longer has. */
  private async restore(): Promise<void> {
    this.reapAfter = Date.now() + this.options.ttlMs;
    try {
      await this.beat();
      const rooms = new Set([...this.rooms.keys(), ...(await this.link.pub.smembers(this.keys.nodeRooms(this.self)))]);
      for (const room of rooms) {
        const key = this.keys.roomMembers(room);
        const mine = this.rooms.get(room) ?? new Map<string, string>();
        await this.rewrite(key, mine, (id) => nodeOf(id) === this.self);
        if (mine.size > 0) await this.link.pub.sadd(this.keys.nodeRooms(this.self), room);
      }
      await this.rewrite(this.keys.nodeConnections(this.self), this.connections, () => true);
    } catch (err) {
      this.log.warn({ err }, "could not restore presence after reconnecting");
    }
  }

  /** Makes a hash hold `mine` for the ids this node owns: writes them, deletes the others. */
  private async rewrite(key: string, mine: Map<string, string>, owned: (id: string) => boolean): Promise<void> {
    const stale = (await this.link.pub.hkeys(key)).filter((id) => owned(id) && !mine.has(id));
    if (stale.length > 0) await this.link.pub.hdel(key, ...stale);
    if (mine.size > 0) await this.link.pub.hset(key, Object.fromEntries(mine));
  }
}
