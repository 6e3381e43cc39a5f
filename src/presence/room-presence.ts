import type { Logger } from "pino";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type {
  Connection,
  Entered,
  Entrant,
  ListedUser,
  NameTaken,
  PresenceHandler,
  Renamed,
  UserPage,
} from "./presence.js";

export interface RoomPresenceOptions {
  nodeId: string;
  /** Milliseconds a node's connections count in a room after its last sweep there (PRESENCE_TTL). */
  ttlMs: number;
  /** Milliseconds a user's connections may be gone when their node stops before the rooms hear they left. */
  graceMs: number;
}

/** Departures announced per room and sweep. */
const SWEEP_BATCH = 200;
/**
 * A departure this node scheduled is swept for on every tick from when it is
 * due until this long after: Redis's clock, which judges it due, may be a
 * little behind the node's.
 */
const DEPARTURE_SLACK_MS = 3000;
/**
 * Sweeps in flight at once. A tick's sweeps all in flight together stayed live across the young
 * generation's collections and were promoted: old space grew by 0.5 MB/s on an idle node.
 */
const SWEEPS_IN_FLIGHT = 16;
/** A room warned about as listed from this node alone is warned about again after this long. */
const WARN_EVERY_MS = 10_000;

/** Decodes the users a script returns after its leading fields: uid, name, connection, ... */
function usersFrom(flat: (number | string)[], from: number): ListedUser[] {
  const users: ListedUser[] = [];
  for (let i = from; i + 2 < flat.length; i += 3) {
    users.push({ uid: String(flat[i]), name: String(flat[i + 1]), id: String(flat[i + 2]) });
  }
  return users;
}

/**
 * Who is in each room, in Redis: each change one script on the room's keys
 * (src/redis/lua/presence-*.lua), so a node that dies between two of them
 * leaves nothing half-done. A connection counts while its node's lease on the
 * room runs; the node renews it with every sweep, and a lapsed node's
 * connections are taken out by whoever sweeps the room next. A user whose
 * last connection left is announced after the grace period by the sweep that
 * finds it due; every node sweeps the rooms it has connections in. This node
 * mirrors what it wrote and writes it again after every reconnect or lapse.
 */
export class RoomPresence {
  handler: PresenceHandler | undefined;
  private readonly rooms = new Map<string, Map<string, Entrant>>();
  /** When this node last renewed its lease on each of its rooms (a sweep, an entry). */
  private readonly renewed = new Map<string, number>();
  /** Rooms swept on every tick in a window: a departure this node scheduled falls due there. */
  private readonly departures = new Map<string, { from: number; until: number }>();
  /** Until then every room is swept on every tick: a node left, its leases lapse and its users' departures fall due. */
  private everyRoomUntil = 0;
  private readonly audited = new Map<string, number>();
  private lastWarning = 0;
  private lastPartial = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly options: RoomPresenceOptions,
    private readonly log: Logger,
  ) {}

  private get self(): string {
    return this.options.nodeId;
  }

  /** How long a room's keys outlive the last write: past every lease and grace then running. */
  private get keyLifetimeMs(): number {
    return 2 * this.options.ttlMs + this.options.graceMs;
  }

  async enter(room: string, c: Entrant, listUpTo: number): Promise<Entered | NameTaken> {
    let mine = this.rooms.get(room);
    const firstHere = !mine;
    if (!mine) {
      mine = new Map();
      this.rooms.set(room, mine);
    }
    // Out of reach, only this node's users can be asked who has the name.
    if (!this.link.isUp && [...mine.values()].some((o) => o.uid !== c.uid && o.nameKey === c.nameKey)) {
      return this.refused(room, c);
    }
    mine.set(c.id, c);
    // Out of reach, the room is what this node sees of it, and an arrival is new to it.
    // Counted only then: it walks the node's members of the room, on every arrival.
    const local = (): Entered => ({ first: true, count: this.localUsers(room).length, partial: true });
    if (!this.link.isUp) return local();
    try {
      const o = this.options;
      const reply = await this.link.pub.chatPresenceEnter(
        ...this.keys.roomPresence(room),
        c.id,
        c.uid,
        c.name,
        this.self,
        o.ttlMs,
        this.keyLifetimeMs,
        firstHere ? 1 : 0,
        o.graceMs,
        c.nameKey,
        listUpTo,
      );
      const [isNew, count, lapsed] = reply;
      if (Number(isNew) === -1) return this.refused(room, c);
      this.renewed.set(room, Date.now());
      const entered: Entered = { first: Number(isNew) === 1, count: Number(count) };
      // After a lapse this node writes its connections there again: the list read before that may lack them.
      if (Number(lapsed) === 1) await this.sync(room, true);
      else if (reply.length > 3) entered.users = usersFrom(reply, 3);
      return entered;
    } catch (err) {
      this.writeFailed(err);
      return local();
    }
  }

  async exit(room: string, c: Connection, graceMs: number): Promise<void> {
    const mine = this.rooms.get(room);
    mine?.delete(c.id);
    const lastHere = mine?.size === 0;
    if (lastHere) {
      this.rooms.delete(room);
      this.audited.delete(room);
      this.renewed.delete(room);
    }
    if (!this.link.isUp) return;
    try {
      const result = await this.link.pub.chatPresenceExit(
        ...this.keys.roomPresence(room),
        c.id,
        c.uid,
        graceMs,
        this.keyLifetimeMs,
        lastHere ? this.self : "",
      );
      // A user who left on purpose is announced now, not at the next sweep.
      if (result.length > 1) this.handler?.onGone(room, usersFrom(result, 1), Number(result[4]));
      else if (graceMs > 0) this.departureDue(room, Date.now() + graceMs);
    } catch (err) {
      this.writeFailed(err);
    }
  }

  /** Not let in: it is in the room no more than before. */
  private refused(room: string, c: Entrant): NameTaken {
    const mine = this.rooms.get(room);
    mine?.delete(c.id);
    if (mine?.size === 0) this.rooms.delete(room);
    return { taken: true };
  }

  /**
   * Claims the name in every room at once (one script each, sent together),
   * then renames the user in all of them, or, where one refused, gives the
   * claims back. Out of reach, the rooms this node has the user in are renamed unchecked.
   */
  async rename(rooms: string[], c: Entrant): Promise<Renamed> {
    const here = () => ({ rooms: rooms.filter((room) => this.localUsers(room).some((u) => u.uid === c.uid)) });
    if (!this.link.isUp) return here();
    const step = (room: string, what: "claim" | "commit" | "undo") =>
      this.link.pub.chatPresenceRename(...this.keys.roomPresence(room), c.uid, c.name, c.nameKey, what);
    try {
      const claims = (await Promise.all(rooms.map((room) => step(room, "claim")))).map(Number);
      const taken = rooms.find((_, i) => claims[i] === -1);
      if (taken !== undefined) {
        await Promise.all(rooms.filter((_, i) => claims[i] === 1).map((room) => step(room, "undo")));
        return { taken };
      }
      const claimed = rooms.filter((_, i) => (claims[i] ?? 0) > 0);
      const renamed = (await Promise.all(claimed.map((room) => step(room, "commit")))).map(Number);
      return { rooms: claimed.filter((_, i) => renamed[i] === 1) };
    } catch (err) {
      this.writeFailed(err);
      return here();
    }
  }

  async list(room: string, limit: number, after?: string): Promise<UserPage> {
    if (!this.link.isUp) return this.localPage(room, limit, "Redis is out of reach");
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
    } catch (err) {
      return this.localPage(room, limit, err);
    }
  }

  /** The room is swept on every tick from `due` on: the sweep that finds a departure due announces it. */
  private departureDue(room: string, due: number): void {
    const window = this.departures.get(room);
    this.departures.set(room, {
      from: Math.min(window?.from ?? due, due),
      until: Math.max(window?.until ?? 0, due + DEPARTURE_SLACK_MS),
    });
  }

  /**
   * Renews this node's lease on the rooms it has connections in, each a third
   * of a TTL after the last renewal, and announces who left them: on every
   * tick, the rooms where a departure this node scheduled is due, and after a
   * node left, every room for a grace period and half a TTL (its leases lapse
   * within a TTL of its last beat; the departures it scheduled as it stopped
   * fall due within the grace). Sweeping every room on every tick cost an idle
   * node hundreds of scripts a second.
   */
  async sweep(mayReap: boolean, nodeLeft: boolean): Promise<void> {
    const now = Date.now();
    const o = this.options;
    if (nodeLeft) this.everyRoomUntil = now + o.graceMs + o.ttlMs / 2;
    const swept = new Set<string>();
    for (const room of this.rooms.keys()) {
      if (now < this.everyRoomUntil || now - (this.renewed.get(room) ?? 0) >= o.ttlMs / 3) swept.add(room);
    }
    for (const [room, window] of this.departures) {
      if (now >= window.until) this.departures.delete(room);
      if (now >= window.from) swept.add(room);
    }
    const chosen = [...swept];
    let next = 0;
    const sweeper = async () => {
      for (let room = chosen[next++]; room !== undefined; room = chosen[next++])
        await this.sweepRoom(room, mayReap, now);
    };
    await Promise.all(Array.from({ length: SWEEPS_IN_FLIGHT }, sweeper));
  }

  private async sweepRoom(room: string, mayReap: boolean, now: number): Promise<void> {
    // The whole room is checked twice a TTL: heals what no lease and no departure covers.
    const audit = mayReap && now - (this.audited.get(room) ?? 0) >= this.options.ttlMs / 2;
    if (audit) this.audited.set(room, now);
    const result = await this.link.pub.chatPresenceSweep(
      ...this.keys.roomPresence(room),
      this.self,
      this.options.ttlMs,
      this.keyLifetimeMs,
      mayReap ? 1 : 0,
      audit ? 1 : 0,
      SWEEP_BATCH,
    );
    if (this.rooms.has(room)) this.renewed.set(room, now);
    const gone = usersFrom(result, 2);
    if (gone.length > 0) this.handler?.onGone(room, gone, Number(result[1]));
    // A full batch may leave more due: the next tick sweeps the room again.
    if (gone.length === SWEEP_BATCH) this.departureDue(room, now);
    if (Number(result[0]) === 1 && this.rooms.has(room)) {
      this.log.warn({ room }, "this node's lease on a room lapsed; listing its connections there again");
      await this.sync(room, true);
    }
  }

  /** After a reconnect or a lapse: every room this node has connections in holds exactly those again. */
  async restore(announce: boolean): Promise<void> {
    await Promise.all([...this.rooms.keys()].map((room) => this.sync(room, announce)));
  }

  /**
   * Writes the room's connections of this node again, taking out those it no
   * longer has. Only after a lapse are the users it lists again announced:
   * the others heard them leave. After a reconnect nobody is: Redis may have
   * lost its data, and then the room did not change, Redis did.
   */
  private async sync(room: string, announce: boolean): Promise<void> {
    const o = this.options;
    const listed = [...(this.rooms.get(room)?.values() ?? [])].flatMap((c) => [c.id, c.uid, c.name, c.nameKey]);
    const result = await this.link.pub.chatPresenceSync(
      ...this.keys.roomPresence(room),
      this.self,
      o.ttlMs,
      this.keyLifetimeMs,
      o.graceMs,
      ...listed,
    );
    const now = Date.now();
    if (this.rooms.has(room)) this.renewed.set(room, now);
    // The connections it no longer has leave after the grace, announced by the sweep that finds them due.
    this.departureDue(room, now + o.graceMs);
    const back = usersFrom(result, 1);
    if (announce && back.length > 0) this.handler?.onBack(room, back, Number(result[0]));
  }

  /** A clean stop: this node's connections leave every room, their users after the grace unless they come back. */
  async close(): Promise<void> {
    if (!this.link.isUp) return;
    const o = this.options;
    await Promise.all(
      [...this.rooms.keys()].map((room) =>
        this.link.pub
          .chatPresenceRelease(...this.keys.roomPresence(room), this.self, o.graceMs, this.keyLifetimeMs)
          .catch(() => undefined),
      ),
    );
  }

  private localUsers(room: string): ListedUser[] {
    const byUser = new Map<string, ListedUser>();
    for (const c of this.rooms.get(room)?.values() ?? []) byUser.set(c.uid, { id: c.id, uid: c.uid, name: c.name });
    return [...byUser.values()];
  }

  /** Only this node's users, marked partial: the other nodes could not be asked. Logged once in ten seconds. */
  private localPage(room: string, limit: number, why: unknown): UserPage {
    const now = Date.now();
    if (now - this.lastPartial >= WARN_EVERY_MS) {
      this.lastPartial = now;
      this.log.warn({ room, err: why }, "listed a room from this node's users alone: the other nodes are out of reach");
    }
    const users = this.localUsers(room);
    return { users: users.slice(0, limit), count: users.length, partial: true };
  }

  /**
   * Presence is kept in this node's mirror too: a write Redis refuses (out
   * of memory, read-only) leaves the member out of other nodes' lists until
   * the next reconnect or sweep, and the chat goes on. Logged once in ten seconds.
   */
  writeFailed(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    this.log.warn({ err }, "Redis refused a presence write; other nodes may not list a member for now");
  }
}
