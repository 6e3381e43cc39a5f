import type { Logger } from "pino";
import { nodeOf } from "../ids/connection-id.js";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import type { Connection } from "./presence.js";

export interface LivenessOptions {
  nodeId: string;
  /** Milliseconds without a heartbeat after which a node counts as dead. */
  ttlMs: number;
}

/** What runs with the heartbeat: the rooms' part of presence. */
export interface LivenessHooks {
  /**
   * After each beat; `mayReap`: other nodes' silence may be judged now (not right after an outage);
   * `nodeLeft`: a node beating at the last tick no longer is (it stopped, or fell silent).
   */
  tick(mayReap: boolean, nodeLeft: boolean): Promise<void>;
  /**
   * Redis came back, or this node's beat lapsed and others took its entries
   * out: write them again. `announce`: after a lapse, the others heard this
   * node's users leave, so those listed again are announced as back.
   */
  restore(announce: boolean): Promise<void>;
}

/** Directory entries reaped per round trip. */
const REAP_BATCH = 100;
/** A failing tick is logged at most this often. */
const WARN_EVERY_MS = 10_000;

/**
 * A node's liveness in Redis: its heartbeat (a sorted set of nodes, scored on
 * Redis's clock), its directory of connections (per node, for `find`; per
 * user, the nodes they are on), the reaping of a dead node's directory, and
 * writing it all again after a reconnect or a lapse. Every step is one
 * command or script and can be repeated: a reap that stops half-way is
 * finished by the next tick of any node, since the dead node stays in the
 * heartbeat set until its directory is empty. A node's directory also
 * expires by itself two TTLs after its last beat.
 */
export class NodeLiveness {
  private readonly connections = new Map<string, Connection>();
  /** No node is declared dead before this: right after an outage every heartbeat is stale. */
  private reapAfter = 0;
  private beaten = false;
  /** Set while a restore runs: a sweep meanwhile would find the leases lapsed and announce what it rewrites. */
  private restoring = false;
  private lastWarning = 0;
  /**
   * The directory was given its expiry since it was last made anew (the node's first connection, a
   * restore): the beat renews it every tick, so a connection sends no PEXPIRE of its own.
   */
  private directoryExpires = false;
  private timer: NodeJS.Timeout | undefined;
  private hooks: LivenessHooks | undefined;
  /** The other nodes beating at the last tick. */
  private beating = new Set<string>();

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly options: LivenessOptions,
    private readonly log: Logger,
  ) {}

  private get self(): string {
    return this.options.nodeId;
  }

  /** How often the node beats and sweeps. */
  get tickMs(): number {
    return Math.max(250, Math.min(1000, Math.floor(this.options.ttlMs / 3)));
  }

  /** Clears the directory an earlier process with this node id left (it has no connections yet), then beats. */
  async start(hooks: LivenessHooks): Promise<void> {
    this.hooks = hooks;
    // Redis may itself have just come back, with every node's last beat stale: wait one TTL before judging.
    this.reapAfter = Date.now() + this.options.ttlMs;
    await this.reapDirectory(this.self);
    // The nodes beating now: one that stops before the first tick still counts as one that left.
    await this.readNodes((await this.beat()).now);
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
    this.link.on("up", () => void this.restore(false));
  }

  async register(c: Connection): Promise<void> {
    this.connections.set(c.id, c);
    if (!this.link.isUp) return;
    const k = this.keys;
    const writes = [
      this.link.pub.hset(k.nodeConnections(this.self), c.id, `${c.uid}\t${c.name}`),
      this.link.pub.hset(k.userConnections(c.uid), c.id, this.self),
    ];
    if (!this.directoryExpires) {
      this.directoryExpires = true;
      writes.push(this.link.pub.pexpire(k.nodeConnections(this.self), 2 * this.options.ttlMs));
    }
    await Promise.all(writes);
  }

  async unregister(c: Connection): Promise<void> {
    this.connections.delete(c.id);
    // Its last entry gone, Redis drops the directory: the next connection makes it anew.
    if (this.connections.size === 0) this.directoryExpires = false;
    if (!this.link.isUp) return;
    await Promise.all([
      this.link.pub.hdel(this.keys.nodeConnections(this.self), c.id),
      this.link.pub.hdel(this.keys.userConnections(c.uid), c.id),
    ]);
  }

  async find(id: string): Promise<Connection | undefined> {
    const node = nodeOf(id);
    if (node === undefined) return undefined;
    if (!this.link.ready) throw new Error("Redis is out of reach");
    const entry = await this.link.pub.hget(this.keys.nodeConnections(node), id);
    if (entry === null) return undefined;
    const tab = entry.indexOf("\t");
    return { id, uid: entry.slice(0, tab), name: entry.slice(tab + 1) };
  }

  async findUser(uid: string): Promise<Connection | undefined> {
    if (!this.link.ready) throw new Error("Redis is out of reach");
    for (const id of await this.link.pub.hkeys(this.keys.userConnections(uid))) {
      const found = await this.find(id);
      if (found) return found;
    }
    return undefined;
  }

  /** The other live nodes with a connection of the user; entries of nodes no longer beating are dropped. */
  async nodesOf(uid: string): Promise<string[]> {
    if (!this.link.ready) throw new Error("Redis is out of reach");
    const entries = Object.entries(await this.link.pub.hgetall(this.keys.userConnections(uid)));
    const nodes = [...new Set(entries.map(([, node]) => node))].filter((n) => n !== this.self);
    if (nodes.length === 0) return [];
    const beats = await this.link.pub.zmscore(this.keys.nodes(), ...nodes);
    const alive = nodes.filter((_, i) => beats[i] !== null);
    // A node that left the heartbeats was reaped; what its reap missed is left over, unless Redis just came back.
    if (alive.length < nodes.length && Date.now() >= this.reapAfter) {
      const stale = entries.filter(([, node]) => node !== this.self && !alive.includes(node)).map(([conn]) => conn);
      await this.link.pub.hdel(this.keys.userConnections(uid), ...stale);
    }
    return alive;
  }

  /** No more beats or sweeps: the node is stopping. */
  stop(): void {
    clearInterval(this.timer);
  }

  async close(): Promise<void> {
    this.stop();
    if (!this.link.isUp) return;
    await this.reapDirectory(this.self).catch(() => undefined);
    await this.link.pub.zrem(this.keys.nodes(), this.self).catch(() => undefined);
  }

  /**
   * Beats. Returns Redis's time, and whether this node's beat had lapsed
   * since the one before (others may have reaped its directory meanwhile).
   */
  private async beat(): Promise<{ now: number; lapsed: boolean }> {
    const [now, before] = (await this.link.pub.chatPresenceBeat(this.keys.nodes(), this.self)).map(Number) as [
      number,
      number,
    ];
    await this.link.pub.pexpire(this.keys.nodeConnections(this.self), 2 * this.options.ttlMs);
    const lapsed = this.beaten && (before < 0 || now - before > this.options.ttlMs);
    this.beaten = true;
    return { now, lapsed };
  }

  private async tick(): Promise<void> {
    if (!this.link.isUp || !this.hooks || this.restoring) return;
    try {
      let beat: { now: number; lapsed: boolean };
      try {
        beat = await this.beat();
      } catch (err) {
        // While this node cannot beat, the others likely cannot either: a silent peer proves nothing, now or
        // for one TTL after the beats come back.
        this.reapAfter = Date.now() + this.options.ttlMs;
        throw err;
      }
      if (beat.lapsed) {
        this.log.warn("this node's heartbeat lapsed; writing its presence again");
        await this.restore(true);
      }
      const mayReap = Date.now() >= this.reapAfter;
      const { dead, nodeLeft } = await this.readNodes(beat.now);
      await this.hooks.tick(mayReap, nodeLeft);
      if (mayReap) await this.reapDead(dead);
    } catch (err) {
      const now = Date.now();
      if (now - this.lastWarning < WARN_EVERY_MS) return;
      this.lastWarning = now;
      this.log.warn({ err }, "presence tick failed; the next one tries again");
    }
  }

  /** The nodes silent for the TTL, and whether one beating at the last tick no longer is. */
  private async readNodes(now: number): Promise<{ dead: string[]; nodeLeft: boolean }> {
    const flat = await this.link.pub.zrange(this.keys.nodes(), 0, -1, "WITHSCORES");
    const dead: string[] = [];
    const beating = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const node = flat[i] as string;
      if (node === this.self) continue;
      if (Number(flat[i + 1]) <= now - this.options.ttlMs) dead.push(node);
      else beating.add(node);
    }
    const nodeLeft = [...this.beating].some((node) => !beating.has(node));
    this.beating = beating;
    return { dead, nodeLeft };
  }

  /** Reaps the directory of each node silent for the TTL; it leaves the heartbeats only once that is done. */
  private async reapDead(dead: string[]): Promise<void> {
    for (const node of dead) {
      this.log.warn({ deadNode: node }, "a node stopped beating; removing its connections");
      await this.reapDirectory(node);
      await this.link.pub.zrem(this.keys.nodes(), node);
    }
  }

  /** Takes a node's connections out of the directory, a batch at a time, each entry of a user before the node's. */
  private async reapDirectory(node: string): Promise<void> {
    const k = this.keys;
    const registered = Object.entries(await this.link.pub.hgetall(k.nodeConnections(node)));
    for (let i = 0; i < registered.length; i += REAP_BATCH) {
      const batch = registered.slice(i, i + REAP_BATCH);
      await Promise.all(batch.map(([conn, entry]) => this.link.pub.hdel(k.userConnections(uidOf(entry)), conn)));
      await this.link.pub.hdel(k.nodeConnections(node), ...batch.map(([conn]) => conn));
    }
  }

  /** Writes this node's directory again and takes out what it no longer has, then the rooms' part. */
  private async restore(announce: boolean): Promise<void> {
    this.reapAfter = Date.now() + this.options.ttlMs;
    const k = this.keys;
    this.restoring = true;
    this.directoryExpires = false;
    try {
      await this.beat();
      const registered = await this.link.pub.hgetall(k.nodeConnections(this.self));
      const gone = Object.entries(registered).filter(([conn]) => !this.connections.has(conn));
      await Promise.all(gone.map(([conn, entry]) => this.link.pub.hdel(k.userConnections(uidOf(entry)), conn)));
      if (gone.length > 0) await this.link.pub.hdel(k.nodeConnections(this.self), ...gone.map(([conn]) => conn));
      await Promise.all([...this.connections.values()].map((c) => this.register(c)));
      await this.hooks?.restore(announce);
    } catch (err) {
      this.log.warn({ err }, "could not restore presence; the next lapse or reconnect tries again");
    } finally {
      this.restoring = false;
    }
  }
}

/** The user of a directory entry ("uid\tname"). */
function uidOf(entry: string): string {
  return entry.slice(0, entry.indexOf("\t"));
}
