import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailable,
  type Envelope,
  type HistoryPage,
  type HistoryQuery,
  type NodeMessage,
  type StoredFrame,
} from "./broker.js";
import { answerQuery, type Stored } from "./history-window.js";
import { IDEMPOTENCY_WINDOW_S } from "./idempotency.js";
import type { HistoryLimits } from "./memory-broker.js";
import type { RedisKeys } from "./redis-keys.js";
import type { RedisLink } from "./redis-link.js";

/**
 * A room's epoch names one lifetime of its counter: it is made with the first
 * read or write of the room and is gone with the counter when Redis loses its
 * data, so a client holding mids of the old lifetime can tell. The last
 * argument is a new epoch, in case; the one before it the room's idle time.
 */
const EPOCH = `
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[#ARGV]
  redis.call('SET', KEYS[3], epoch)
end
`;

/**
 * Every read or write of a room keeps its keys for its idle time more: a room
 * nobody uses for that long is forgotten, counter, history and epoch
 * together, and starts over as a new epoch.
 */
const TOUCH = (keys: number) => `
for i = 1, ${keys} do redis.call('EXPIRE', KEYS[i], ARGV[#ARGV - 1]) end
`;

/**
 * Stores a message and, unless told to leave that to the caller (ARGV[6] is
 * empty), publishes it in the same step, so that the order of the stream and
 * the order of the channel can never differ. ARGV[6] names the command:
 * PUBLISH, or SPUBLISH in a Cluster, where the channel shares the keys' slot.
 * With an idempotency key (KEYS[4], kept ARGV[7] seconds) a message sent
 * again is not stored twice: the first one's mid comes back, with no payload.
 */
const STORE_AND_PUBLISH = `${EPOCH}
if ARGV[7] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {tonumber(seen), ''} end
end
local mid = redis.call('INCR', KEYS[1])
local frame = ARGV[2] .. mid .. ARGV[3]
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], mid .. '-0', 'ts', ARGV[5], 'f', frame)
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[4], mid, 'EX', ARGV[7])
end
${TOUCH(3)}
local payload = mid .. '\\t' .. epoch .. '\\t\\n' .. frame
if ARGV[6] ~= '' then
  redis.call(ARGV[6], ARGV[1], payload)
end
return {mid, payload}
`;

/**
 * Publishes a message stored earlier, once the replicas have it, and moves
 * the room's published mark (KEYS[1]) up to it: history shows nothing above
 * that mark, so nobody sees a message a failover could still take back.
 */
const PUBLISH_REPLICATED = `
local mid = tonumber(ARGV[3])
if mid > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], mid, 'EX', ARGV[5])
end
return redis.call(ARGV[4], ARGV[1], ARGV[2])
`;

/**
 * Reads the top mid, the epoch and a window of the stream in one consistent
 * step. The top is the published mark where there is one (behind Sentinel),
 * else the counter.
 */
const READ_HISTORY = `${EPOCH}${TOUCH(4)}
local top = tonumber(redis.call('GET', KEYS[4]) or redis.call('GET', KEYS[1]) or '0')
local entries
if ARGV[1] == 'since' then
  -- A since of another epoch counts messages that are gone: all of this epoch's are new to the client.
  local from = '(' .. ARGV[2] .. '-0'
  if ARGV[4] ~= '' and ARGV[4] ~= epoch then from = '-' end
  entries = redis.call('XRANGE', KEYS[2], from, top .. '-0')
elseif ARGV[1] == 'before' then
  local below = math.min(tonumber(ARGV[2]) - 1, top)
  entries = redis.call('XREVRANGE', KEYS[2], below .. '-0', '-', 'COUNT', ARGV[3])
else
  entries = redis.call('XREVRANGE', KEYS[2], top .. '-0', '-', 'COUNT', ARGV[3])
end
return {top, epoch, entries}
`;

type StreamEntry = [id: string, fields: string[]];

interface RoomFeed {
  room: string;
  channel: string;
  /** The newest mid this node has delivered, so a replay or a redelivery is never delivered twice. */
  lastMid: number;
  epoch: string;
  /** While the stream is replayed after a gap, live envelopes wait here. */
  held: Envelope[] | undefined;
}

/**
 * Replies that mean "not now" rather than "never": a Cluster moving a slot
 * or short of a shard (ioredis gives up redirecting while the shard's
 * connection is closed), a replica promoted or still loading its data, a
 * Redis out of memory, busy with a script or unable to persist. The sender
 * is told `unavailable` and may try again; the operator reads the cause in
 * the log.
 */
const PASSING =
  /^(TRYAGAIN|CLUSTERDOWN|MOVED|ASK|LOADING|READONLY|MASTERDOWN|OOM|BUSY|MISCONF|NOREPLICAS)\b|^Too many Cluster redirections|^Connection is closed/;

function isPassing(err: unknown): boolean {
  return err instanceof Error && PASSING.test(err.message);
}

const newEpoch = () => randomBytes(4).toString("hex");

function parseEnvelope(payload: string): Envelope & { epoch?: string } {
  const nl = payload.indexOf("\n");
  const [mid = "", epoch = "", exclude = ""] = payload.slice(0, nl).split("\t");
  return {
    mid: mid === "" ? undefined : Number(mid),
    epoch: epoch === "" ? undefined : epoch,
    exclude: exclude === "" ? undefined : exclude,
    frame: payload.slice(nl + 1),
  };
}

/**
 * Rooms over Redis: a Pub/Sub channel per room that this node subscribes to
 * only while it has a member there, a stream per room as its history, and a
 * channel per node for private messages. After any gap (an outage, a missed
 * mid) it replays the stream from the last mid it delivered, so its members
 * miss nothing and see nothing twice.
 */
export class RedisBroker implements Broker {
  private handler: BrokerHandler | undefined;
  private readonly feeds = new Map<string, RoomFeed>();
  private readonly byChannel = new Map<string, RoomFeed>();
  private readonly nodeChannel: string;
  private up = false;
  private lastRefusal = 0;
  private connectedReplicas = 0;
  private replicaTimer: NodeJS.Timeout | undefined;
  /** Channels to subscribe to on the next (re)connect: all of them for one Redis; in a Cluster, the new ones. */
  private readonly pending = new Set<string>();

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
  ) {
    this.nodeChannel = keys.nodeChannel(nodeId);
    this.pending.add(this.nodeChannel);
    link.pub.defineCommand("chatPublishStored", { numberOfKeys: 4, lua: STORE_AND_PUBLISH });
    link.pub.defineCommand("chatReadHistory", { numberOfKeys: 4, lua: READ_HISTORY });
    link.pub.defineCommand("chatPublishReplicated", { numberOfKeys: 1, lua: PUBLISH_REPLICATED });
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    this.link.onMessage((channel, payload) => this.onMessage(channel, payload));
    await this.link.start();
    this.link.on("down", () => this.setUp(false));
    this.link.on("up", () => void this.resume());
    await this.resume();
    if (this.replicas > 0) {
      this.connectedReplicas = this.replicas;
      this.watchReplicas();
    }
  }

  isUp(): boolean {
    return this.up;
  }

  /** How long a room's keys outlive its last use. */
  private get idleSeconds(): string {
    return String(Math.max(1, Math.ceil(this.limits.idleMs / 1000)));
  }

  async subscribe(room: string): Promise<void> {
    if (this.feeds.has(room)) return;
    const feed: RoomFeed = { room, channel: this.keys.roomChannel(room), lastMid: 0, epoch: "", held: undefined };
    this.feeds.set(room, feed);
    this.byChannel.set(feed.channel, feed);
    // While Redis is away the room still works locally; resume() subscribes it later.
    if (this.up) await this.link.subscribe([feed.channel]);
    else this.pending.add(feed.channel);
  }

  async unsubscribe(room: string): Promise<void> {
    const feed = this.feeds.get(room);
    if (!feed) return;
    this.feeds.delete(room);
    this.byChannel.delete(feed.channel);
    this.pending.delete(feed.channel);
    if (this.up) await this.link.unsubscribe(feed.channel).catch(() => undefined);
  }

  async publish(room: string, frame: string, exclude?: string): Promise<void> {
    this.link.assertUp();
    await this.command(() => this.link.publish(this.keys.roomChannel(room), `\t\t${exclude ?? ""}\n${frame}`));
  }

  async publishStored(room: string, message: StoredFrame, idempotencyKey?: string): Promise<number> {
    this.link.assertUp();
    const k = this.keys;
    const channel = k.roomChannel(room);
    const publishNow = this.replicas === 0 ? (this.link.sharded ? "SPUBLISH" : "PUBLISH") : "";
    const [mid, payload] = await this.command(() =>
      (this.link.pub as unknown as Scripts).chatPublishStored(
        k.roomSeq(room),
        k.roomLog(room),
        k.roomEpoch(room),
        k.roomSent(room, idempotencyKey ?? ""),
        channel,
        message.head,
        message.tail,
        String(this.limits.size),
        String(Date.now()),
        publishNow,
        idempotencyKey === undefined ? "" : String(IDEMPOTENCY_WINDOW_S),
        this.idleSeconds,
        newEpoch(),
      ),
    );
    // An empty payload: the same message was stored before, and published then.
    if (publishNow === "" && payload !== "") await this.publishReplicated(room, Number(mid), payload);
    return Number(mid);
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    this.link.assertUp();
    const k = this.keys;
    const [mode, arg] =
      query.since !== undefined
        ? ["since", query.since]
        : query.before !== undefined
          ? ["before", query.before]
          : ["latest", 0];
    const [top, epoch, entries] = await this.command(() =>
      (this.link.pub as unknown as Scripts).chatReadHistory(
        k.roomSeq(room),
        k.roomLog(room),
        k.roomEpoch(room),
        k.roomPublished(room),
        mode,
        String(arg),
        String(query.limit + 1),
        query.epoch ?? "",
        this.idleSeconds,
        newEpoch(),
      ),
    );
    const stored = entries.map(toStored);
    if (mode !== "since") stored.reverse();
    return answerQuery(stored, Number(top), epoch, query, this.limits.maxAgeMs);
  }

  /**
   * Waits for the replicas that are connected, then publishes. With none
   * connected (right after a failover) it publishes at once rather than stall
   * every message. Should the publication itself be lost, the message is
   * stored all the same: every node fetches it from the stream when the next
   * mid shows it the gap.
   */
  private async publishReplicated(room: string, mid: number, payload: string): Promise<void> {
    const wanted = Math.min(this.replicas, this.connectedReplicas);
    if (wanted > 0) {
      const acked = Number(await this.command(() => this.link.pub.call("WAIT", wanted, 1000)));
      if (acked < wanted) this.log.warn({ acked, wanted }, "a message reached fewer replicas than wanted");
    }
    const k = this.keys;
    await (this.link.pub as unknown as Scripts)
      .chatPublishReplicated(
        k.roomPublished(room),
        k.roomChannel(room),
        payload,
        String(mid),
        "PUBLISH",
        this.idleSeconds,
      )
      .catch((err: unknown) => {
        this.log.warn({ err }, "stored a message but could not publish it; nodes will fetch it from history");
      });
  }

  /** Behind Sentinel: how many replicas the primary has now, read from ROLE once a second. */
  private watchReplicas(): void {
    this.replicaTimer = setInterval(() => {
      if (!this.link.isUp) return;
      this.link.pub
        .call("ROLE")
        .then((role) => {
          const [kind, , replicas] = role as [string, number, unknown[]];
          this.connectedReplicas = kind === "master" ? replicas.length : 0;
        })
        .catch(() => undefined);
    }, 1000);
    this.replicaTimer.unref();
  }

  async sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    this.link.assertUp();
    const receivers = await this.command(() =>
      this.link.publish(this.keys.nodeChannel(nodeId), JSON.stringify(message)),
    );
    return receivers > 0;
  }

  async close(): Promise<void> {
    clearInterval(this.replicaTimer);
    this.setUp(false);
    await this.link.close();
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (this.link.pub.status !== "ready") throw new BrokerUnavailable();
      if (isPassing(err)) {
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

  private setUp(up: boolean): void {
    this.up = up;
  }

  /** After (re)connecting: subscribe to everything this node needs, then replay what it missed. */
  private async resume(): Promise<void> {
    try {
      // In a Cluster, ioredis keeps sharded subscriptions itself, following their slots.
      const channels = this.link.sharded ? [...this.pending] : [this.nodeChannel, ...this.byChannel.keys()];
      await this.link.subscribe(channels);
      this.pending.clear();
      this.setUp(true);
      for (const feed of this.feeds.values()) {
        if (feed.lastMid > 0) void this.replay(feed);
      }
      this.log.info({ channels: channels.length }, "subscribed to Redis");
    } catch (err) {
      this.log.warn({ err }, "could not resubscribe; will retry on the next reconnect");
    }
  }

  private onMessage(channel: string, payload: string): void {
    if (channel === this.nodeChannel) {
      try {
        this.handler?.onNode(JSON.parse(payload) as NodeMessage);
      } catch (err) {
        this.log.warn({ err }, "unreadable node message");
      }
      return;
    }
    const feed = this.byChannel.get(channel);
    if (!feed) return;
    const envelope = parseEnvelope(payload);
    if (feed.held) {
      feed.held.push(envelope);
      return;
    }
    if (
      envelope.mid !== undefined &&
      feed.lastMid > 0 &&
      envelope.epoch === feed.epoch &&
      envelope.mid > feed.lastMid + 1
    ) {
      // A mid was skipped: fetch it from the stream before going on.
      feed.held = [envelope];
      void this.replay(feed);
      return;
    }
    this.accept(feed, envelope);
  }

  private accept(feed: RoomFeed, envelope: Envelope & { epoch?: string }): void {
    if (envelope.mid !== undefined) {
      if (envelope.epoch !== undefined && envelope.epoch !== feed.epoch) {
        if (feed.epoch !== "") this.handler?.onReset(feed.room, envelope.epoch);
        feed.epoch = envelope.epoch;
        feed.lastMid = 0;
      }
      if (envelope.mid <= feed.lastMid) return;
      feed.lastMid = envelope.mid;
    }
    this.handler?.onRoom(feed.room, envelope);
  }

  private async replay(feed: RoomFeed): Promise<void> {
    feed.held ??= [];
    try {
      const page = await this.history(feed.room, { since: feed.lastMid, epoch: feed.epoch, limit: this.limits.size });
      if (!page.complete)
        this.log.warn({ room: feed.room, since: feed.lastMid }, "history no longer reaches back to the gap");
      for (const m of page.messages) this.accept(feed, { mid: m.mid, epoch: page.epoch, frame: m.frame });
    } catch (err) {
      this.log.warn({ err, room: feed.room }, "could not replay a room's gap");
    } finally {
      const waiting = feed.held ?? [];
      feed.held = undefined;
      for (const envelope of waiting) this.accept(feed, envelope);
    }
  }
}

interface Scripts {
  chatPublishStored(...args: string[]): Promise<[number, string]>;
  chatReadHistory(...args: string[]): Promise<[number, string, StreamEntry[]]>;
  chatPublishReplicated(...args: string[]): Promise<number>;
}

function toStored([id, fields]: StreamEntry): Stored {
  const value = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { mid: Number.parseInt(id, 10), ts: Number(value("ts")), frame: value("f") };
}
