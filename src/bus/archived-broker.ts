import { randomBytes } from "node:crypto";
import type { Archive, CarryBatch, PlaceMeta } from "../archive/archive.js";
import { retentionCutoff } from "../archive/retention.js";
import {
  type ChangeOf,
  type HistoryLimits,
  type HistoryPage,
  type HistoryQuery,
  idleMsOf,
  MessageGone,
  type StoredAt,
  type UnnumberedMessage,
} from "./broker.js";
import { MemoryBroker } from "./memory-broker.js";

/** Messages stored in one transaction at most: a burst still gets its acks in steps. */
const GROUP_COMMIT_MAX = 1000;

/** A message waiting for its batch's commit. */
interface Waiting {
  room: string;
  message: UnnumberedMessage;
  sentKey: string | undefined;
  resolve(at: StoredAt): void;
  reject(err: unknown): void;
}

/**
 * The broker of a lone process that keeps its history in an archive (SQLite
 * in DATA_DIR, or PostgreSQL): fan-out as MemoryBroker's, and every stored
 * message numbered, written, then delivered, in turns: the messages that
 * arrive during one turn are written together in the next, in one
 * transaction (group commit), and delivered once it commits. So a
 * message nobody could find again is never shown, and a history read, which
 * waits its turn, has every message up to its `top` delivered already: a
 * joiner released at `top` misses nothing.
 */
export class ArchivedBroker extends MemoryBroker {
  /** What this process remembers of the places in use: read from the archive at first use, let go when idle. */
  private readonly places = new Map<string, PlaceMeta & { lastUsed: number }>();
  private turn: Promise<unknown> = Promise.resolve();
  /** The messages waiting for the last turn queued, while it is a batch that has not begun. */
  private open: Waiting[] | undefined;

  constructor(
    nodeId: string,
    private readonly window: HistoryLimits,
    private readonly archive: Archive,
    /** Messages a `since` recovers at most; past that the newest page comes back, unrecovered. */
    private readonly recoveryMax: number,
    /** RETENTION_DAYS: older messages are not shown, purged or not yet. */
    private readonly retentionDays = 0,
  ) {
    super(nodeId, window);
  }

  override get storedRooms(): number {
    return this.places.size;
  }

  override publishStored(
    room: string,
    message: UnnumberedMessage,
    idempotencyKey?: string,
    change?: ChangeOf,
  ): Promise<StoredAt> {
    const sentKey = idempotencyKey === undefined ? undefined : `${room}\n${idempotencyKey}`;
    // A change is checked against the state of its message, which the messages before it may have changed.
    if (change) return this.inTurn(() => this.storeChange(room, message, sentKey, change));
    return new Promise((resolve, reject) => {
      let batch = this.open;
      if (!batch) {
        const opened: Waiting[] = [];
        void this.inTurn(() => this.storeBatch(opened));
        this.open = batch = opened;
      }
      batch.push({ room, message, sentKey, resolve, reject });
      if (batch.length >= GROUP_COMMIT_MAX) this.open = undefined;
    });
  }

  private async storeChange(
    room: string,
    message: UnnumberedMessage,
    sentKey: string | undefined,
    change: ChangeOf,
  ): Promise<StoredAt> {
    const seen = sentKey === undefined ? undefined : this.sent.get(sentKey);
    if (seen !== undefined) return seen;
    const meta = await this.meta(room);
    const mid = meta.top + 1;
    const json = message.head + mid + message.tail;
    if (!(await this.archive.append(room, meta.epoch, { mid, ts: Date.now(), json }))) {
      throw new MessageGone(change.target);
    }
    meta.top = mid;
    const at = { mid, epoch: meta.epoch };
    if (sentKey !== undefined) this.sent.set(sentKey, at);
    this.deliver(room, { mid, epoch: meta.epoch, json });
    return at;
  }

  /**
   * Group commit: the messages that arrived while the turn before was
   * writing go to the archive in one transaction. Each is numbered in
   * arrival order; none is acknowledged nor delivered before that
   * transaction commits, so an ack still means stored.
   */
  private async storeBatch(batch: Waiting[]): Promise<void> {
    // SQLite writes without yielding to I/O: the batch gathers what every socket that was ready brought first.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.open === batch) this.open = undefined;
    try {
      const tops = new Map<string, number>();
      /** Sent again within this batch: the first one's mid, as `sent` would give it once committed. */
      const local = new Map<string, StoredAt>();
      const stored: { w: Waiting; at: StoredAt; json?: string; meta?: PlaceMeta }[] = [];
      const batches = new Map<string, CarryBatch>();
      for (const w of batch) {
        const seen = w.sentKey === undefined ? undefined : (this.sent.get(w.sentKey) ?? local.get(w.sentKey));
        if (seen !== undefined) {
          stored.push({ w, at: seen });
          continue;
        }
        const meta = await this.meta(w.room);
        const mid = (tops.get(w.room) ?? meta.top) + 1;
        tops.set(w.room, mid);
        const json = w.message.head + mid + w.message.tail;
        const at = { mid, epoch: meta.epoch };
        if (w.sentKey !== undefined) local.set(w.sentKey, at);
        stored.push({ w, at, json, meta });
        const place = batches.get(w.room) ?? { place: w.room, epoch: meta.epoch, entries: [] };
        place.entries.push({ mid, ts: Date.now(), json });
        batches.set(w.room, place);
      }
      if (batches.size > 0) await this.archive.carryMany([...batches.values()]);
      for (const { w, at, json, meta } of stored) {
        if (meta && json !== undefined) {
          meta.top = at.mid;
          if (w.sentKey !== undefined) this.sent.set(w.sentKey, at);
          this.deliver(w.room, { mid: at.mid, epoch: at.epoch, json });
        }
        w.resolve(at);
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  override history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.inTurn(async () => {
      const { epoch, top } = await this.meta(room);
      const now = Date.now();
      const cutoff = Math.max(
        this.window.maxAgeMs > 0 ? now - this.window.maxAgeMs : 0,
        retentionCutoff(this.retentionDays, now),
      );
      if (query.since !== undefined) {
        // Whoever saw no message at all cannot have seen one of another epoch.
        const sameEpoch = query.epoch === undefined || query.epoch === epoch || query.since === 0;
        if (sameEpoch && query.since <= top) {
          const after = await this.archive.since(room, query.since, this.recoveryMax, cutoff);
          if (after !== undefined) return { epoch, top, messages: after, complete: true };
        }
        const newest = await this.archive.page(room, undefined, query.limit, cutoff);
        return { epoch, top, messages: newest.entries, complete: false };
      }
      const page = await this.archive.page(room, query.before, query.limit, cutoff);
      return { epoch, top, messages: page.entries, complete: page.complete };
    });
  }

  override async close(): Promise<void> {
    await super.close();
    await this.turn;
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    // Whatever comes after this in turn comes after it: a message sent later must not join a batch before it.
    this.open = undefined;
    const next = this.turn.then(fn, fn);
    this.turn = next.catch(() => undefined);
    return next;
  }

  private async meta(place: string): Promise<PlaceMeta> {
    let meta = this.places.get(place);
    if (!meta) {
      // A place never written to gets its epoch when its first message is kept.
      const kept = (await this.archive.place(place)) ?? { epoch: randomBytes(4).toString("hex"), top: 0 };
      meta = { ...kept, lastUsed: 0 };
      this.places.set(place, meta);
    }
    meta.lastUsed = Date.now();
    return meta;
  }

  /**
   * The archive keeps every room; this process lets go of what it remembers
   * of one nobody used for its idle time, so 10 000 rooms passing through
   * cost no memory once gone. The next use reads it again.
   */
  protected override forgetIdle(): void {
    const now = Date.now();
    for (const [place, meta] of this.places) {
      if (!this.subscribed.has(place) && now - meta.lastUsed > idleMsOf(this.window, place)) this.places.delete(place);
    }
  }
}
