import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { PlaceMeta } from "../archive/archive.js";
import type { RedisKeys } from "../redis/redis-keys.js";
import type { RedisLink } from "../redis/redis-link.js";
import { ReplicaWatch } from "../redis/replica-watch.js";
import type { StreamEntry } from "../redis/scripts.js";
import { isTransient } from "../redis/transient-errors.js";
import { notedByScript } from "./archive-carrier.js";
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailable,
  type ChangeOf,
  type HistoryLimits,
  type HistoryPage,
  type HistoryQuery,
  idleMsOf,
  MessageGone,
  type StoredAt,
  type UnnumberedMessage,
} from "./broker.js";
import {
  type Envelope,
  encodeEnvelope,
  encodeNodeMessage,
  type NodeMessage,
  parseEnvelope,
  parseNodeMessage,
} from "./envelope.js";
import { answerQuery, pageOfWindow, type Stored } from "./history-window.js";
import { IDEMPOTENCY_WINDOW_S } from "./idempotency.js";
import { RoomFeed } from "./room-feed.js";

/** How soon a resubscription that failed while the link stayed up is tried again. */
const RESUBSCRIBE_RETRY_MS = 500;
/**
 * A room that heard nothing for this long is checked against Redis: a
 * subscription lost without the link going down is healed within about as
 * long, at the cost of one MGET per quiet room per period.
 */
const POSITION_CHECK_MS = 5000;
/**
 * Ticks per POSITION_CHECK_MS (one every 100 ms): each checks at most this fraction of the rooms, its
 * MGETs sent from one callback and their replies read together, so a tick stays short beside a busy room.
 */
const POSITION_TICKS = 50;
const newEpoch = () => randomBytes(4).toString("hex");
/** The most a room's keys outlive its idle time (RedisBroker.keptFor). */
const MAX_REFRESH_SLACK_MS = 60_000;

/** The keys and channel the store script takes for a room, but the idempotency key, which is per message. */
interface StoreKeys {
  seq: string;
  log: string;
  epoch: string;
  window: string;
  windowMids: string;
  floor: string;
  carry: string;
  index: string;
  carryChanges: string;
  channel: string;
  /** How long the room's keys are kept from a store that sets their time to live, and how long this node may wait to (keptFor). */
  kept: { ttl: number; slack: number };
  /** When this node next sets the room's keys' time to live as it stores. */
  refreshDue: number;
}

function toStored([id, fields]: StreamEntry): Stored {
  const value = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { mid: Number.parseInt(id, 10), ts: Number(value("ts")), json: value("f") };
}

/**
 * Rooms over Redis: a Pub/Sub channel per room that this node subscribes to
 * only while it has a member there, a stream per room as its history (both
 * written by one script, src/redis/lua), and a channel per node for frames to
 * one connection. Each room's gaps are filled from its stream by a RoomFeed.
 */
export class RedisBroker implements Broker {
  private handler: BrokerHandler | undefined;
  private readonly feeds = new Map<string, RoomFeed>();
  private readonly byChannel = new Map<string, RoomFeed>();
  private readonly nodeChannel: string;
  private up = false;
  private lastRefusal = 0;
  private replicaWatch: ReplicaWatch | undefined;
  /** Channels to subscribe to on the next (re)connect: all of them for one Redis; in a Cluster, the new ones. */
  private readonly pending = new Set<string>();
  private positionCheck: NodeJS.Timeout | undefined;
  private checkingPositions = false;
  /** Where checkPositions stopped in `feeds`; a Map's iterator skips rooms deleted since and visits those added. */
  private positionWalk: Iterator<RoomFeed> | undefined;
  /**
   * Made once a room rather than nine strings for every message stored; kept while the node follows the
   * room, so that a room nobody here is in leaves nothing behind.
   */
  private readonly storeKeys = new Map<string, StoreKeys>();

  constructor(
    readonly nodeId: string,
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly limits: HistoryLimits,
    private readonly log: Logger,
    /**
     * Replicas that must hold a message before it is published (Sentinel):
     * a failover then cannot lose a message that anyone has seen, nor give
     * its mid to another.
     */
    private readonly replicas = 0,
    /**
     * With a database behind Redis (DATABASE_URL): every stored message is
     * also put on its room's carry stream, for ArchiveCarrier to take into
     * the database, and a room Redis holds no epoch for is looked up there
     * first, so a room that Redis lost goes on from what the database has.
     */
    private readonly archived?: (room: string) => Promise<PlaceMeta | undefined>,
  ) {
    this.nodeChannel = keys.nodeChannel(nodeId);
    this.pending.add(this.nodeChannel);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    this.link.onMessage((channel, payload) => this.onMessage(channel, payload));
    await this.link.start();
    this.link.on("down", () => {
      this.up = false;
    });
    this.link.on("up", () => void this.resume());
    await this.resume();
    // Checks a few rooms every tick rather than every room at once.
    this.positionCheck = setInterval(() => void this.checkPositions(), POSITION_CHECK_MS / POSITION_TICKS);
    this.positionCheck.unref();
    if (this.replicas > 0) {
      this.replicaWatch = new ReplicaWatch(this.link, this.keys, this.nodeId, this.replicas);
      await this.replicaWatch.ready();
    }
  }

  isUp(): boolean {
    return this.up;
  }

  /**
   * How long a room's keys are kept from a use (ttl), and how long a node may store in the room without
   * setting that again (slack): six commands of the twenty-odd a stored message costs Redis. Every use
   * that sets it sets the idle time and the slack, so a room is kept at least its idle time after its
   * last use, stored while the node waited or not, and at most the slack more: the next store after a
   * node's slack sets it again, and keys that expired meanwhile were set at least the slack before.
   */
  private keptFor(room: string): { ttl: number; slack: number } {
    const idle = idleMsOf(this.limits, room);
    const slack = Math.min(MAX_REFRESH_SLACK_MS, Math.ceil(idle / 10));
    return { ttl: idle + slack, slack };
  }

  /** How long a room's keys outlive its last use, for the published mark (set with every message). */
  private idleSeconds(room: string): number {
    return Math.max(1, Math.ceil(idleMsOf(this.limits, room) / 1000));
  }

  async subscribe(room: string): Promise<void> {
    if (!this.handler) throw new Error("RedisBroker: subscribe() before start()");
    if (this.feeds.has(room)) return;
    const feed = new RoomFeed(room, this.keys.roomChannel(room), this, this.handler, this.log);
    this.feeds.set(room, feed);
    this.byChannel.set(feed.channel, feed);
    // While Redis is away the room still works locally; resume() subscribes it later.
    if (!this.up) {
      this.pending.add(feed.channel);
      return;
    }
    try {
      await this.link.subscribe([feed.channel]);
    } catch (err) {
      // Not followed after all: kept, the feed would make the next join take the room as subscribed.
      this.feeds.delete(room);
      this.byChannel.delete(feed.channel);
      // A shard that is down (a Cluster failing over) refuses the join for now, as any command.
      if (!this.link.ready || isTransient(err)) throw new BrokerUnavailable();
      throw err;
    }
  }

  async unsubscribe(room: string): Promise<void> {
    const feed = this.feeds.get(room);
    if (!feed) return;
    this.feeds.delete(room);
    this.byChannel.delete(feed.channel);
    this.pending.delete(feed.channel);
    this.storeKeys.delete(room);
    if (this.up) await this.link.unsubscribe(feed.channel).catch(() => undefined);
  }

  async publish(room: string, envelope: Envelope): Promise<void> {
    const { json, exclude, kind } = envelope;
    await this.command(() => this.link.publish(this.keys.roomChannel(room), encodeEnvelope({ json, exclude, kind })));
  }

  async publishStored(
    room: string,
    message: UnnumberedMessage,
    idempotencyKey?: string,
    change?: ChangeOf,
  ): Promise<StoredAt> {
    const publishNow = this.replicas === 0 ? (this.link.sharded ? "SPUBLISH" : "PUBLISH") : "";
    const noteCarry = this.archived !== undefined && notedByScript(this.link);
    const k = this.storeKeysOf(room);
    const { kept } = k;
    const now = Date.now();
    const refresh = now >= k.refreshDue;
    const [mid, payload, epoch] = await this.roomScript(room, (seed) =>
      this.link.pub.chatStoreAndPublish(
        k.seq,
        k.log,
        k.epoch,
        this.keys.roomSent(room, idempotencyKey ?? ""),
        k.window,
        k.windowMids,
        k.floor,
        k.carry,
        noteCarry ? k.index : k.carry,
        k.carryChanges,
        k.channel,
        message.head,
        message.tail,
        this.limits.size,
        now,
        publishNow,
        idempotencyKey === undefined ? "" : IDEMPOTENCY_WINDOW_S,
        kept.ttl,
        change?.kind ?? "",
        change?.target ?? 0,
        change?.key ?? "",
        this.archived ? "1" : "",
        change?.archived ? "1" : "",
        noteCarry ? room : "",
        refresh ? "1" : "",
        seed,
      ),
    );
    // Only once Redis has run it: a store that failed set nothing.
    if (refresh) k.refreshDue = now + kept.slack;
    if (Number(mid) === 0 && change) throw new MessageGone(change.target, epoch);
    // The payload comes back only for the node to publish (after WAIT); empty, the same message was stored before, and published then.
    if (publishNow === "" && payload !== "") await this.publishReplicated(room, Number(mid), payload);
    return { mid: Number(mid), epoch };
  }

  private storeKeysOf(room: string): StoreKeys {
    let keys = this.storeKeys.get(room);
    if (keys) return keys;
    const k = this.keys;
    keys = {
      seq: k.roomSeq(room),
      log: k.roomLog(room),
      epoch: k.roomEpoch(room),
      window: k.roomWindow(room),
      windowMids: k.roomWindowMids(room),
      floor: k.roomLogFloor(room),
      carry: k.roomCarry(room),
      index: k.carryIndexOf(room),
      carryChanges: k.roomCarryChanges(room),
      channel: k.roomChannel(room),
      kept: this.keptFor(room),
      refreshDue: 0,
    };
    if (this.feeds.has(room)) this.storeKeys.set(room, keys);
    return keys;
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    if (query.since !== undefined) {
      const [top, epoch, floor, entries] = await this.read(room, "since", query.since, query);
      const stored = entries.map(toStored).reverse();
      const page = answerQuery(stored, top, epoch, query, this.limits.maxAgeMs, floor);
      // What the log no longer reaches back to: the newest messages as they are now, unrecovered.
      if (!page.complete) return { ...(await this.history(room, { limit: query.limit })), complete: false };
      return page;
    }
    const [mode, arg] = query.before !== undefined ? ["before", query.before] : ["latest", 0];
    const [top, epoch, , , bundles] = await this.read(room, mode, arg, query);
    return pageOfWindow(bundles, top, epoch, query.limit, this.limits.maxAgeMs);
  }

  private async read(room: string, mode: string, arg: number, query: HistoryQuery) {
    const k = this.keys;
    const [top, epoch, floor, entries, bundles] = await this.roomScript(room, (seed) =>
      this.link.pub.chatReadHistory(
        k.roomSeq(room),
        k.roomLog(room),
        k.roomEpoch(room),
        k.roomPublished(room),
        k.roomWindow(room),
        k.roomWindowMids(room),
        k.roomLogFloor(room),
        mode,
        arg,
        query.limit + 1,
        query.epoch ?? "",
        this.keptFor(room).ttl,
        this.archived ? "1" : "",
        seed,
      ),
    );
    // A room this node follows learns where it stands from every read, a join's first:
    // a gap before the first live mid it gets is then filled as any other.
    this.feeds.get(room)?.follow(epoch, Number(top));
    return [Number(top), epoch, Number(floor), entries, bundles] as const;
  }

  /**
   * Runs a room script (room-epoch.lua opens it) with `seed` as the epoch
   * for a room that has none: a new one, or, with a database behind Redis,
   * the database's epoch and top for the room.
   */
  private async roomScript<T extends unknown[]>(room: string, run: (seed: string) => Promise<T>): Promise<T> {
    const archived = this.archived;
    if (!archived) return this.command(() => run(newEpoch()));
    const reply = await this.command(() => run(""));
    if (Number(reply[0]) !== -1) return reply;
    const seed = await archived(room).then(
      (kept) => (kept ? `${kept.epoch}/${kept.top}` : newEpoch()),
      (err: unknown) => {
        // The chat goes on without the database; should Redis have lost this room, its next mids are not archived.
        this.log.warn(
          { err, room },
          "the database could not say where a room new to Redis stands; it starts a new epoch",
        );
        return newEpoch();
      },
    );
    return this.command(() => run(seed));
  }

  /** What a room feed reads to fill a gap. */
  readSince(room: string, since: number, epoch: string): Promise<HistoryPage> {
    return this.history(room, { since, epoch, limit: this.limits.size });
  }

  /**
   * Waits for the replicas that are connected (ReplicaWatch, on a connection
   * of its own), then publishes. With none connected (right after a
   * failover) it publishes at once rather than stall every message. Should
   * the publication itself be lost, the message is stored all the same:
   * every node reads it from the stream when the next mid shows it the gap.
   */
  private async publishReplicated(room: string, mid: number, payload: string): Promise<void> {
    const watch = this.replicaWatch;
    if (watch) {
      const { acked, wanted } = await this.command(() => watch.replicated());
      if (acked < wanted) this.log.warn({ acked, wanted }, "a message reached fewer replicas than wanted");
    }
    const k = this.keys;
    await this.link.pub
      .chatPublishReplicated(
        k.roomPublished(room),
        k.roomChannel(room),
        payload,
        mid,
        "PUBLISH",
        this.idleSeconds(room),
      )
      .catch((err: unknown) => {
        this.log.warn({ err }, "stored a message but could not publish it; nodes will read it from history");
      });
  }

  async sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    const receivers = await this.command(() =>
      this.link.publish(this.keys.nodeChannel(nodeId), encodeNodeMessage(message)),
    );
    return receivers > 0;
  }

  async close(): Promise<void> {
    clearInterval(this.positionCheck);
    this.replicaWatch?.stop();
    this.up = false;
    await this.link.close();
  }

  /** Runs a command; "not now" from Redis, or no Redis at all, becomes BrokerUnavailable. */
  private async command<T>(run: () => Promise<T>): Promise<T> {
    if (!this.link.ready) throw new BrokerUnavailable();
    try {
      return await run();
    } catch (err) {
      if (!this.link.ready) throw new BrokerUnavailable();
      if (isTransient(err)) {
        this.refusedByRedis(err);
        throw new BrokerUnavailable();
      }
      throw err;
    }
  }

  /** A reply that refuses work (out of memory, read-only): logged once in ten seconds, so an operator sees why. */
  private refusedByRedis(err: unknown): void {
    const now = Date.now();
    if (now - this.lastRefusal < 10_000) return;
    this.lastRefusal = now;
    this.log.warn({ err }, "Redis refused a command; senders are told 'unavailable'");
  }

  /** After (re)connecting: subscribe to everything this node needs, then read what it missed. */
  private async resume(): Promise<void> {
    // In a Cluster, ioredis keeps sharded subscriptions itself, following their slots.
    let channels = this.link.sharded ? [...this.pending] : [this.nodeChannel, ...this.byChannel.keys()];
    this.pending.clear();
    try {
      await this.link.subscribe(channels);
      // A room first joined here while that was under way was only noted in `pending`:
      // without this it would get no live messages until the next reconnect.
      while (this.pending.size > 0) {
        channels = [...this.pending];
        this.pending.clear();
        await this.link.subscribe(channels);
      }
      this.up = true;
      for (const feed of this.feeds.values()) feed.resume();
      this.log.info({ channels: this.byChannel.size + 1 }, "subscribed to Redis");
    } catch (err) {
      for (const channel of channels) this.pending.add(channel);
      // The link may stay up (a subscribe refused between two status events): then nothing else would retry.
      this.log.warn({ err }, "could not resubscribe; trying again");
      setTimeout(() => {
        if (this.link.isUp && !this.up) void this.resume();
      }, RESUBSCRIBE_RETRY_MS).unref();
    }
  }

  /**
   * Compares each room that heard nothing for POSITION_CHECK_MS with what
   * Redis holds. In a Cluster, a slot moved to another shard ends its
   * channels' subscriptions there; ioredis usually follows, but should it
   * not, a member would hear nothing more until it reconnected.
   */
  private async checkPositions(): Promise<void> {
    if (!this.up || this.checkingPositions) return;
    this.checkingPositions = true;
    try {
      const due = Date.now() - POSITION_CHECK_MS;
      // Rooms joined together (a node's clients connecting at once) fall due together: checked all in one
      // tick, every period, their commands came as one burst that held up deliveries (1,900 rooms, bench/scale.ts).
      const most = Math.ceil(this.feeds.size / POSITION_TICKS);
      const quiet: RoomFeed[] = [];
      // Each tick goes on from where the last one stopped: starting over from the first room, it walked
      // past the rooms it had just checked, on average half of them, ten times a second.
      for (let looked = 0; quiet.length < most && looked < this.feeds.size; ) {
        this.positionWalk ??= this.feeds.values();
        const next = this.positionWalk.next();
        if (next.done) {
          this.positionWalk = undefined;
          continue;
        }
        looked++;
        if (next.value.quietSince <= due) quiet.push(next.value);
      }
      await Promise.all(quiet.map((feed) => this.checkPosition(feed)));
    } finally {
      this.checkingPositions = false;
    }
  }

  private async checkPosition(feed: RoomFeed): Promise<void> {
    const k = this.keys;
    try {
      const [published, counter, epoch] = await this.link.pub.mget(
        k.roomPublished(feed.room),
        k.roomSeq(feed.room),
        k.roomEpoch(feed.room),
      );
      if (!feed.missed(epoch ?? null, Number(published ?? counter ?? 0))) return;
      if (this.feeds.get(feed.room) !== feed) return;
      this.log.warn({ room: feed.room }, "a room's publications stopped reaching this node; subscribing again");
      await this.link.unsubscribe(feed.channel).catch(() => undefined);
      // Subscribed again or not, what was stored is read now; a failed subscription is retried next period.
      await this.link.subscribe([feed.channel]).finally(() => feed.resume());
    } catch (err) {
      // Redis away or a shard moving: the next period tries again.
      this.log.debug({ err, room: feed.room }, "could not check a room's position");
    }
  }

  private onMessage(channel: string, payload: string): void {
    if (channel === this.nodeChannel) {
      try {
        this.handler?.onNode(parseNodeMessage(payload));
      } catch (err) {
        this.log.warn({ err }, "unreadable node message");
      }
      return;
    }
    this.byChannel.get(channel)?.receive(parseEnvelope(payload));
  }
}
