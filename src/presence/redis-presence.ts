import type { Logger } from "pino";
import { nodeOf } from "../ids/connection-id.js";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type { Entered, Member, Presence, PresenceHandler, UserPage } from "./presence.js";

export interface RedisPresenceOptions {
  nodeId: string;
  /** Milliseconds without a heartbeat after which a node counts as dead. */
  ttlMs: number;
  /** Milliseconds a user's connections may be gone when their node restarts before the rooms hear they left. */
  graceMs: number;
}

/** Departures claimed at most per sweep. */
const SWEEP_BATCH = 200;

/**
 * Presence in Redis. Per room, four hashes in one hash slot, changed by the
 * scripts of src/redis/lua/presence-*.lua: its connections, its users, each
 * user's connection count and the connection that stands for each user. A
 * user whose last connection leaves goes into a sorted set of departures due
 * after the grace period; every node sweeps it, and whoever claims a
 * departure (ZREM) announces it, unless a connection came back. Per node, its
 * connections (for `find`) and the rooms it has members in (for reaping);
 * per user, the nodes their connections are on.
 *
 * Each node keeps a heartbeat in a sorted set; a node silent for the TTL is
 * reaped by whoever claims it first. Each node mirrors what it wrote and
 * writes it again after every reconnect, so presence survives an outage or a
 * Redis that lost its data.
 */
export class RedisPresence implements Presence {
  private handler: PresenceHandler | undefined;
  private readonly connections = new Map<string, Member>();
  private readonly rooms = new Map<string, Map<string, Member>>();
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

  private get self(): string {
    return this.options.nodeId;
  }

  /** Clears what an earlier process with this node id left (it has no members yet), then starts beating. */
  async start(handler: PresenceHandler): Promise<void> {
    this.handler = handler;
    // Redis may itself have just come back, with every node's last beat stale: wait one TTL before judging.
    this.reapAfter = Date.now() + this.options.ttlMs;
    await this.reapNode(this.self, Date.now() + this.options.graceMs);
    await this.beat();
    this.timer = setInterval(() => void this.tick(), Math.max(250, Math.min(1000, Math.floor(this.options.ttlMs / 3))));
    this.timer.unref();
    this.link.on("up", () => void this.restore());
  }

  async connect(member: Member): Promise<void> {
    this.connections.set(member.id, member);
    if (!this.link.isUp) return;
    await this.write([
      this.link.pub.hset(this.keys.nodeConnections(this.self), member.id, `${member.uid}\t${member.name}`),
      this.link.pub.hset(this.keys.userConnections(member.uid), member.id, this.self),
    ]);
  }

  async disconnect(member: Member): Promise<void> {
    this.connections.delete(member.id);
    if (!this.link.isUp) return;
    await this.write([
      this.link.pub.hdel(this.keys.nodeConnections(this.self), member.id),
      this.link.pub.hdel(this.keys.userConnections(member.uid), member.id),
    ]);
  }

  async find(id: string): Promise<Member | undefined> {
    const node = nodeOf(id);
    if (node === undefined) return undefined;
    if (!this.link.ready) throw new Error("Redis is out of reach");
    const entry = await this.link.pub.hget(this.keys.nodeConnections(node), id);
    if (entry === null) return undefined;
    const tab = entry.indexOf("\t");
    return { id, uid: entry.slice(0, tab), name: entry.slice(tab + 1) };
  }

  async findUser(uid: string): Promise<Member | undefined> {
    if (!this.link.ready) throw new Error("Redis is out of reach");
    for (const id of await this.link.pub.hkeys(this.keys.userConnections(uid))) {
      const member = await this.find(id);
      if (member) return member;
    }
    return undefined;
  }

  async nodesOf(uid: string): Promise<string[]> {
    if (!this.link.ready) throw new Error("Redis is out of reach");
    const nodes = new Set(await this.link.pub.hvals(this.keys.userConnections(uid)));
    nodes.delete(this.self);
    return [...nodes];
  }

  async enter(room: string, member: Member): Promise<Entered> {
    let mine = this.rooms.get(room);
    const firstHere = !mine;
    if (!mine) {
      mine = new Map();
      this.rooms.set(room, mine);
    }
    mine.set(member.id, member);
    // Out of reach, the room is what this node sees of it, and an arrival is new to it.
    // Counted only then: it walks the node's members of the room, on every arrival.
    const local = (): Entered => ({ first: true, count: this.localUsers(room).length });
    if (!this.link.isUp) return local();
    try {
      const [isNew, count] = await this.link.pub.chatPresenceEnter(
        ...this.roomKeys(room),
        member.id,
        member.uid,
        member.name,
      );
      // The node's room list changes only with its first member there; restore() repairs it after an outage.
      // Not in the script: in a Cluster the room and the node live on different shards.
      if (firstHere) await this.link.pub.sadd(this.keys.nodeRooms(this.self), room);
      return { first: Number(isNew) === 1, count: Number(count) };
    } catch (err) {
      this.writeFailed(err);
      return local();
    }
  }

  async exit(room: string, member: Member, graceMs: number): Promise<void> {
    const mine = this.rooms.get(room);
    mine?.delete(member.id);
    const lastHere = mine?.size === 0;
    if (lastHere) this.rooms.delete(room);
    if (!this.link.isUp) return;
    try {
      const last = await this.leave(room, member.id, member.uid, Date.now() + graceMs);
      // A user who left on purpose is announced now, not at the next sweep.
      if (last && graceMs === 0) await this.depart(`${room}\n${member.uid}`);
      // The node's room list loses a room with the node's last member there: it never grows without end.
      if (lastHere) await this.link.pub.srem(this.keys.nodeRooms(this.self), room);
    } catch (err) {
      this.writeFailed(err);
    }
  }

  async rename(room: string, member: Member): Promise<void> {
    if (!this.link.isUp) return;
    // Only where the user is now: a renamer's kept rooms may include one it has no connection in.
    const users = this.keys.roomUsers(room);
    const rename = async () => {
      if (await this.link.pub.hexists(users, member.uid)) await this.link.pub.hset(users, member.uid, member.name);
    };
    await this.write([rename()]);
  }

  async list(room: string, limit: number, after?: string): Promise<UserPage> {
    if (!this.link.isUp) return this.localPage(room, limit);
    try {
      const k = this.keys;
      const count = await this.link.pub.hlen(k.roomUsers(room));
      if (limit === 0) return { users: [], count };
      if (after === undefined && count <= limit) {
        const [users, reps] = await Promise.all([
          this.link.pub.hgetall(k.roomUsers(room)),
          this.link.pub.hgetall(k.roomReps(room)),
        ]);
        return { users: Object.entries(users).map(([uid, name]) => ({ id: reps[uid] ?? "", uid, name })), count };
      }
      // A big room is read a page at a time: HSCAN's cursor is the page's `next`.
      const [cursor, flat] = await this.link.pub.hscan(k.roomUsers(room), after ?? "0", "COUNT", limit);
      const uids = flat.filter((_, i) => i % 2 === 0);
      const reps = uids.length > 0 ? await this.link.pub.hmget(k.roomReps(room), ...uids) : [];
      const users = uids.map((uid, i) => ({ id: reps[i] ?? "", uid, name: flat[i * 2 + 1] ?? "" }));
      return { users, count, next: cursor === "0" ? undefined : cursor };
    } catch {
      return this.localPage(room, limit);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (!this.link.isUp) return;
    // A clean exit leaves nothing for the reaper; its users' departures still wait out their grace.
    await this.reapNode(this.self, Date.now() + this.options.graceMs).catch(() => undefined);
    await this.link.pub.zrem(this.keys.nodes(), this.self).catch(() => undefined);
  }

  private roomKeys(room: string): [string, string, string, string] {
    const k = this.keys;
    return [k.roomConnections(room), k.roomUsers(room), k.roomCounts(room), k.roomReps(room)];
  }

  /**
   * Takes a connection out of a room; its user's departure is due at `due`
   * if it was their last there (then true).
   */
  private async leave(room: string, conn: string, uid: string, due: number): Promise<boolean> {
    const k = this.keys;
    const left = await this.link.pub.chatPresenceExit(
      k.roomConnections(room),
      k.roomCounts(room),
      k.roomReps(room),
      conn,
      uid,
    );
    if (Number(left) !== 0) return false;
    await this.link.pub.zadd(k.leaving(), due, `${room}\n${uid}`);
    return true;
  }

  private localUsers(room: string): Member[] {
    const byUser = new Map<string, Member>();
    for (const m of this.rooms.get(room)?.values() ?? []) byUser.set(m.uid, { id: m.id, uid: m.uid, name: m.name });
    return [...byUser.values()];
  }

  private localPage(room: string, limit: number): UserPage {
    const users = this.localUsers(room);
    return { users: users.slice(0, limit), count: users.length };
  }

  /**
   * Presence is kept in this node's mirror too: a write Redis refuses (out
   * of memory, read-only) leaves the member out of other nodes' lists until
   * the next reconnect, and the chat goes on. Logged once in ten seconds.
   */
  private async write(writes: Promise<unknown>[]): Promise<void> {
    await Promise.all(writes).catch((err: unknown) => this.writeFailed(err));
  }

  private writeFailed(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.log.warn({ err }, "Redis refused a presence write; other nodes may not list a member for now");
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
      await this.sweepDepartures();
      if (Date.now() < this.reapAfter) return;
      const dead = await this.link.pub.zrangebyscore(this.keys.nodes(), "-inf", Date.now() - this.options.ttlMs);
      for (const node of dead) {
        if (node === this.self) continue;
        // Only the node whose ZREM removes the entry cleans up, so departures are announced once.
        if ((await this.link.pub.zrem(this.keys.nodes(), node)) === 1) {
          this.log.warn({ deadNode: node }, "a node stopped beating; removing its users");
          await this.reapNode(node, Date.now());
        }
      }
    } catch (err) {
      this.log.debug({ err }, "presence heartbeat failed");
    }
  }

  /** Announces the departures whose grace period is over, each by the one node that claims it. */
  private async sweepDepartures(): Promise<void> {
    const due = await this.link.pub.zrangebyscore(this.keys.leaving(), "-inf", Date.now(), "LIMIT", 0, SWEEP_BATCH);
    for (const entry of due) await this.depart(entry);
  }

  /** Claims one due departure ("room\nuid"); unless a connection came back, the room hears the user left. */
  private async depart(entry: string): Promise<void> {
    const k = this.keys;
    if ((await this.link.pub.zrem(k.leaving(), entry)) !== 1) return;
    const nl = entry.indexOf("\n");
    const [room, uid] = [entry.slice(0, nl), entry.slice(nl + 1)];
    const result = await this.link.pub.chatPresenceGone(k.roomUsers(room), k.roomCounts(room), k.roomReps(room), uid);
    if (result.length === 0) return;
    const [name, rep, count] = result;
    this.handler?.onGone(room, [{ id: rep, uid, name }], Number(count));
  }

  /** Takes every connection a node registered out of its rooms and the directories; departures are due at `due`. */
  private async reapNode(node: string, due: number): Promise<void> {
    const k = this.keys;
    for (const room of await this.link.pub.smembers(k.nodeRooms(node))) {
      const conns = await this.link.pub.hgetall(k.roomConnections(room));
      for (const [conn, uid] of Object.entries(conns)) {
        if (nodeOf(conn) === node) await this.leave(room, conn, uid, due);
      }
    }
    const registered = await this.link.pub.hgetall(k.nodeConnections(node));
    for (const [conn, entry] of Object.entries(registered)) {
      await this.link.pub.hdel(k.userConnections(entry.slice(0, entry.indexOf("\t"))), conn);
    }
    await this.link.pub.del(k.nodeConnections(node));
    if (node !== this.self) await this.link.pub.del(k.nodeRooms(node));
  }

  /** After a reconnect: write this node's connections and rooms again, and take out what it no longer has. */
  private async restore(): Promise<void> {
    this.reapAfter = Date.now() + this.options.ttlMs;
    const k = this.keys;
    try {
      await this.beat();
      const registered = await this.link.pub.hgetall(k.nodeConnections(this.self));
      for (const [conn, entry] of Object.entries(registered)) {
        if (this.connections.has(conn)) continue;
        await this.link.pub.hdel(k.nodeConnections(this.self), conn);
        await this.link.pub.hdel(k.userConnections(entry.slice(0, entry.indexOf("\t"))), conn);
      }
      for (const m of this.connections.values()) {
        await this.link.pub.hset(k.nodeConnections(this.self), m.id, `${m.uid}\t${m.name}`);
        await this.link.pub.hset(k.userConnections(m.uid), m.id, this.self);
      }
      const rooms = new Set([...this.rooms.keys(), ...(await this.link.pub.smembers(k.nodeRooms(this.self)))]);
      for (const room of rooms) {
        const mine = this.rooms.get(room) ?? new Map<string, Member>();
        const stored = await this.link.pub.hgetall(k.roomConnections(room));
        for (const [conn, uid] of Object.entries(stored)) {
          if (nodeOf(conn) === this.self && !mine.has(conn)) {
            await this.leave(room, conn, uid, Date.now() + this.options.graceMs);
          }
        }
        // Entering again is harmless for a connection Redis still has; after a data loss it puts it back.
        // Either way nobody is announced: the room did not change, Redis did.
        for (const m of mine.values())
          await this.link.pub.chatPresenceEnter(...this.roomKeys(room), m.id, m.uid, m.name);
        if (mine.size > 0) await this.link.pub.sadd(k.nodeRooms(this.self), room);
        else await this.link.pub.srem(k.nodeRooms(this.self), room);
      }
    } catch (err) {
      this.log.warn({ err }, "could not restore presence after reconnecting");
    }
  }
}
