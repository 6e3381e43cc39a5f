import type { Logger } from "pino";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import { NodeLiveness } from "./node-liveness.js";
import type {
  Connection,
  Entered,
  Entrant,
  NameTaken,
  Presence,
  PresenceHandler,
  Renamed,
  UserPage,
} from "./presence.js";
import { RoomPresence } from "./room-presence.js";

export interface RedisPresenceOptions {
  nodeId: string;
  /** Milliseconds without a heartbeat after which a node counts as dead (PRESENCE_TTL). */
  ttlMs: number;
  /** Milliseconds a user's connections may be gone when their node restarts before the rooms hear they left. */
  graceMs: number;
}

/**
 * Presence in Redis, in two parts: the node's liveness (heartbeat, directory
 * of connections, reaping dead nodes, writing it again after an outage) and
 * who is in each room (leases renewed by each node's sweep, departures after
 * the grace). The heartbeat drives the rooms' sweep.
 */
export class RedisPresence implements Presence {
  private readonly liveness: NodeLiveness;
  private readonly rooms: RoomPresence;

  constructor(link: RedisLink, keys: RedisKeys, options: RedisPresenceOptions, log: Logger) {
    this.liveness = new NodeLiveness(link, keys, options, log);
    this.rooms = new RoomPresence(link, keys, options, log);
  }

  async start(handler: PresenceHandler): Promise<void> {
    this.rooms.handler = handler;
    await this.liveness.start({
      tick: (mayReap, nodeLeft) => this.rooms.sweep(mayReap, nodeLeft),
      restore: (announce) => this.rooms.restore(announce),
    });
  }

  connect(c: Connection): Promise<void> {
    return this.liveness.register(c).catch((err: unknown) => this.rooms.writeFailed(err));
  }

  disconnect(c: Connection): Promise<void> {
    return this.liveness.unregister(c).catch((err: unknown) => this.rooms.writeFailed(err));
  }

  find(id: string): Promise<Connection | undefined> {
    return this.liveness.find(id);
  }

  findUser(uid: string): Promise<Connection | undefined> {
    return this.liveness.findUser(uid);
  }

  nodesOf(uid: string): Promise<string[]> {
    return this.liveness.nodesOf(uid);
  }

  enter(room: string, c: Entrant, listUpTo = 0): Promise<Entered | NameTaken> {
    return this.rooms.enter(room, c, listUpTo);
  }

  exit(room: string, c: Connection, graceMs: number): Promise<void> {
    return this.rooms.exit(room, c, graceMs);
  }

  rename(rooms: string[], c: Entrant): Promise<Renamed> {
    return this.rooms.rename(rooms, c);
  }

  list(room: string, limit: number, after?: string): Promise<UserPage> {
    return this.rooms.list(room, limit, after);
  }

  async close(): Promise<void> {
    // A clean exit leaves nothing for the reaper; its users' departures still wait out their grace.
    this.liveness.stop();
    await this.rooms.close();
    await this.liveness.close();
  }
}
