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
import type { HistoryLimits } from "./memory-broker.js";
import type { RedisKeys } from "./redis-keys.js";
import type { RedisLink } from "./redis-link.js";

/**
 * A room's epoch names one lifetime of its counter: it is made with the first
 * read or write of the room and is gone with the counter when Redis loses its
 * data, so a client holding mids of the old lifetime can tell.
 */
const EPOCH = `
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[#ARGV]
  redis.call('SET', KEYS[3], epoch)
end
`;

/**
 * Stores and publishes in one step, so that the order of the stream and the
 * order of the channel can never differ: every node sees mids in order.
 */
const PUBLISH_STORED = `${EPOCH}
local mid = redis.call('INCR', KEYS[1])
local frame = ARGV[2] .. mid .. ARGV[3]
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], mid .. '-0', 'ts', ARGV[5], 'f', frame)
end
redis.call('PUBLISH', ARGV[1], mid .. '\\t' .. epoch .. '\\t\\n' .. frame)
return mid
`;

/** Reads the counter, the epoch and a window of the stream in one consistent step. */
const READ_HISTORY = `${EPOCH}
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
local entries
if ARGV[1] == 'since' then
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', '+')
elseif ARGV[1] == 'before' then
  entries = redis.call('XREVRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', '-', 'COUNT', ARGV[3])
else
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[3])
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

  constructor(
    readonly nodeId: string,
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly limits: HistoryLimits,
    private readonly log: Logger,
  ) {
    this.nodeChannel = keys.nodeChannel(nodeId);
    link.pub.defineCommand("chatPublishStored", { numberOfKeys: 3, lua: PUBLISH_STORED });
    link.pub.defineCommand("chatReadHistory", { numberOfKeys: 3, lua: READ_HISTORY });
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    this.link.sub.on("message", (channel: string, payload: string) => this.onMessage(channel, payload));
    this.link.on("down", () => this.setUp(false));
    this.link.on("up", () => void this.resume());
    await this.link.start();
    await this.resume();
  }

  isUp(): boolean {
    return this.up;
  }

  async subscribe(room: string): Promise<void> {
    if (this.feeds.has(room)) return;
    const feed: RoomFeed = { room, channel: this.keys.roomChannel(room), lastMid: 0, epoch: "", held: undefined };
    this.feeds.set(room, feed);
    this.byChannel.set(feed.channel, feed);
    // While Redis is away the room still works locally; resume() subscribes it later.
    if (this.up) await this.link.sub.subscribe(feed.channel);
  }

  async unsubscribe(room: string): Promise<void> {
    const feed = this.feeds.get(room);
    if (!feed) return;
    this.feeds.delete(room);
    this.byChannel.delete(feed.channel);
    if (this.up) await this.link.sub.unsubscribe(feed.channel).catch(() => undefined);
  }

  async publish(room: string, frame: string, exclude?: string): Promise<void> {
    this.link.assertUp();
    await this.command(() => this.link.pub.publish(this.keys.roomChannel(room), `\t\t${exclude ?? ""}\n${frame}`));
  }

  async publishStored(room: string, message: StoredFrame): Promise<number> {
    this.link.assertUp();
    const k = this.keys;
    const mid = await this.command(() =>
      (this.link.pub as unknown as Scripts).chatPublishStored(
        k.roomSeq(room),
        k.roomLog(room),
        k.roomEpoch(room),
        k.roomChannel(room),
        message.head,
        message.tail,
        String(this.limits.size),
        String(Date.now()),
        newEpoch(),
      ),
    );
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
        mode,
        String(arg),
        String(query.limit + 1),
        newEpoch(),
      ),
    );
    const stored = entries.map(toStored);
    if (mode !== "since") stored.reverse();
    return answerQuery(stored, Number(top), epoch, query, this.limits.maxAgeMs);
  }

  async sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    this.link.assertUp();
    const receivers = await this.command(() =>
      this.link.pub.publish(this.keys.nodeChannel(nodeId), JSON.stringify(message)),
    );
    return receivers > 0;
  }

  async close(): Promise<void> {
    this.setUp(false);
    await this.link.close();
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (this.link.pub.status !== "ready") throw new BrokerUnavailable();
      throw err;
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.handler?.onState(up);
  }

  /** After (re)connecting: subscribe to everything this node needs, then replay what it missed. */
  private async resume(): Promise<void> {
    try {
      const channels = [this.nodeChannel, ...this.byChannel.keys()];
      await this.link.sub.subscribe(...channels);
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
  chatPublishStored(...args: string[]): Promise<number>;
  chatReadHistory(...args: string[]): Promise<[number, string, StreamEntry[]]>;
}

function toStored([id, fields]: StreamEntry): Stored {
  const value = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { mid: Number.parseInt(id, 10), ts: Number(value("ts")), frame: value("f") };
}
