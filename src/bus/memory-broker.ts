import { randomBytes } from "node:crypto";
import {
  type Broker,
  type BrokerHandler,
  type HistoryLimits,
  type HistoryPage,
  type HistoryQuery,
  idleMsOf,
  type StoredAt,
  type UnnumberedMessage,
} from "./broker.js";
import type { Envelope, NodeMessage } from "./envelope.js";
import { answerQuery, type Stored } from "./history-window.js";
import { RecentKeys } from "./idempotency.js";

interface RoomLog {
  top: number;
  /** The messages still kept, oldest first. */
  kept: Stored[];
  /** Each lifetime of a room's log has its own: a forgotten room's mids start over. */
  epoch: string;
  lastUsed: number;
}

/** The embedded broker: one process, no Redis, the same semantics as the Redis broker. */
export class MemoryBroker implements Broker {
  private handler: BrokerHandler | undefined;
  protected readonly subscribed = new Set<string>();
  private readonly logs = new Map<string, RoomLog>();
  protected readonly sent = new RecentKeys<StoredAt>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly nodeId: string,
    private readonly limits: HistoryLimits,
  ) {
    this.sweeper = setInterval(() => this.forgetIdle(), Math.min(60_000, Math.max(250, limits.idleMs / 2)));
    this.sweeper.unref();
  }

  /** Rooms whose log is still kept, for the metrics and the soak test. */
  get storedRooms(): number {
    return this.logs.size;
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
  }

  async subscribe(room: string): Promise<void> {
    this.subscribed.add(room);
  }

  async unsubscribe(room: string): Promise<void> {
    this.subscribed.delete(room);
  }

  async publish(room: string, envelope: Envelope): Promise<void> {
    this.deliver(room, { json: envelope.json, exclude: envelope.exclude, kind: envelope.kind });
  }

  async publishStored(room: string, message: UnnumberedMessage, idempotencyKey?: string): Promise<StoredAt> {
    const sentKey = idempotencyKey === undefined ? undefined : `${room}\n${idempotencyKey}`;
    const seen = sentKey === undefined ? undefined : this.sent.get(sentKey);
    if (seen !== undefined) return seen;
    const log = this.logFor(room);
    const mid = ++log.top;
    const json = message.head + mid + message.tail;
    if (this.limits.size > 0) {
      log.kept.push({ mid, ts: Date.now(), json });
      if (log.kept.length > this.limits.size) log.kept.splice(0, log.kept.length - this.limits.size);
    }
    if (sentKey !== undefined) this.sent.set(sentKey, { mid, epoch: log.epoch });
    this.deliver(room, { mid, epoch: log.epoch, json });
    return { mid, epoch: log.epoch };
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const log = this.logFor(room);
    return answerQuery(log.kept, log.top, log.epoch, query, this.limits.maxAgeMs);
  }

  async sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    if (nodeId !== this.nodeId || !this.handler) return false;
    this.handler.onNode(message);
    return true;
  }

  isUp(): boolean {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.subscribed.clear();
  }

  /** Drops what no one will be sent again: messages past their age, and rooms left alone too long. */
  protected forgetIdle(): void {
    const now = Date.now();
    const cutoff = this.limits.maxAgeMs > 0 ? now - this.limits.maxAgeMs : 0;
    for (const [room, log] of this.logs) {
      if (!this.subscribed.has(room) && now - log.lastUsed > idleMsOf(this.limits, room)) {
        this.logs.delete(room);
        continue;
      }
      if (cutoff > 0 && (log.kept[0]?.ts ?? now) < cutoff) log.kept = log.kept.filter((m) => m.ts >= cutoff);
    }
  }

  private logFor(room: string): RoomLog {
    let log = this.logs.get(room);
    if (!log) {
      // A restarted process, or a forgotten room, starts a new epoch: clients must be able to tell.
      log = { top: 0, kept: [], epoch: randomBytes(4).toString("hex"), lastUsed: 0 };
      this.logs.set(room, log);
    }
    log.lastUsed = Date.now();
    return log;
  }

  protected deliver(room: string, envelope: Envelope): void {
    if (this.subscribed.has(room)) this.handler?.onRoom(room, envelope);
  }
}
