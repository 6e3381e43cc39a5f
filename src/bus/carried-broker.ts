import type { Archive, ArchivedHit, PlaceMeta, SearchAnswer, SearchAsk } from "../archive/archive.js";
import { retentionCutoff } from "../archive/retention.js";
import { isTransient } from "../redis/transient-errors.js";
import type { ArchiveCarrier, CarriedChange } from "./archive-carrier.js";
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailable,
  type ChangeOf,
  type HistoryLimits,
  type HistoryPage,
  type HistoryQuery,
  MessageGone,
  type StoredAt,
  type UnnumberedMessage,
} from "./broker.js";
import type { Envelope, NodeMessage } from "./envelope.js";

type Entry = { mid: number; json: string };

const isBug = (err: unknown) => err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;

function merged(a: Entry[], b: Entry[]): Entry[] {
  const byMid = new Map<number, Entry>();
  for (const e of [...a, ...b]) byMid.set(e.mid, e);
  return [...byMid.values()].sort((x, y) => x.mid - y.mid);
}

/**
 * A page the database gave, as it reads now: a message whose deletion is
 * still on its way there loses its text, its edits and its reactions, and
 * comes with the deletion; one edited meanwhile comes with the newest edit.
 */
function settled(entries: Entry[], changes: Map<number, CarriedChange>): Entry[] {
  if (changes.size === 0) return entries;
  const out: Entry[] = [];
  for (const entry of entries) {
    const frame = JSON.parse(entry.json) as { action?: unknown; target?: unknown; message?: unknown };
    const change = changes.get(entry.mid);
    if (change?.kind === "delete" && frame.message !== "") {
      out.push({ mid: entry.mid, json: JSON.stringify({ ...frame, message: "" }) });
      continue;
    }
    const of = typeof frame.target === "number" ? changes.get(frame.target) : undefined;
    // Changes of a deleted message go with its text; an older edit gives way to the newer one.
    if (of?.kind === "delete" && frame.action !== "delete") continue;
    if (of?.kind === "edit" && frame.action === "edit" && entry.mid < of.mid) continue;
    out.push(entry);
  }
  for (const [target, change] of changes) {
    if (out.some((e) => e.mid === target)) out.push({ mid: change.mid, json: change.json });
  }
  return merged(out, []);
}

/** A hit as it reads now: none for a message deleted meanwhile, nor for one edited since the database had it. */
function stillTrue(hit: ArchivedHit, change: CarriedChange | undefined): boolean {
  if (change === undefined) return true;
  return change.kind === "edit" && hit.edited === change.ts;
}

/**
 * Redis with PostgreSQL behind it (REDIS_* and DATABASE_URL): Redis stays
 * the hot path (ordering, fan-out, the window a join and recovery read), and
 * the archive answers what falls out of the window. Every stored message is
 * noted for the carrier before its sender hears the ack. Whatever needs the
 * database while it is away is refused as unavailable; nothing else waits for it.
 */
export class CarriedBroker implements Broker {
  constructor(
    private readonly redis: Broker,
    private readonly carrier: ArchiveCarrier,
    private readonly archive: Archive,
    private readonly limits: HistoryLimits,
    /** Messages a `since` recovers at most; past that the newest page comes back, unrecovered. */
    private readonly recoveryMax: number,
    /** RETENTION_DAYS: the archive's pages stop there (0: they go back to the first message). */
    private readonly retentionDays = 0,
  ) {}

  get nodeId(): string {
    return this.redis.nodeId;
  }

  start(handler: BrokerHandler): Promise<void> {
    return this.redis.start(handler);
  }

  subscribe(room: string): Promise<void> {
    return this.redis.subscribe(room);
  }

  unsubscribe(room: string): Promise<void> {
    return this.redis.unsubscribe(room);
  }

  publish(room: string, envelope: Envelope): Promise<void> {
    return this.redis.publish(room, envelope);
  }

  sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    return this.redis.sendToNode(nodeId, message);
  }

  isUp(): boolean {
    return this.redis.isUp();
  }

  async publishStored(
    room: string,
    message: UnnumberedMessage,
    idempotencyKey?: string,
    change?: ChangeOf,
  ): Promise<StoredAt> {
    const at = await this.redis
      .publishStored(room, message, idempotencyKey, change)
      .catch((err: unknown) =>
        err instanceof MessageGone && change
          ? this.changeArchived(room, message, idempotencyKey, change, err)
          : Promise.reject(err),
      );
    // Noted even for a message stored before (a resend): the first attempt may have died right here.
    await this.carrier.note(room).catch((err: unknown) => {
      throw isTransient(err) || !this.redis.isUp() ? new BrokerUnavailable() : err;
    });
    return at;
  }

  /**
   * A change to a message past Redis's window: the archive is the record,
   * so the change goes ahead when it keeps the message (not deleted), and is
   * stored, published and carried like any other.
   */
  private async changeArchived(
    room: string,
    message: UnnumberedMessage,
    idempotencyKey: string | undefined,
    change: ChangeOf,
    gone: MessageGone,
  ): Promise<StoredAt> {
    let kept: PlaceMeta | undefined;
    let holds: boolean;
    try {
      kept = await this.archive.place(room);
      holds = kept !== undefined && kept.epoch === gone.epoch && (await this.archive.holds(room, change.target));
    } catch {
      throw new BrokerUnavailable();
    }
    if (!holds) {
      // Out of the window and not in the database yet: on its way there, so a moment later it can be changed.
      if (kept !== undefined && kept.epoch === gone.epoch && kept.top < change.target) throw new BrokerUnavailable();
      throw gone;
    }
    return this.redis.publishStored(room, message, idempotencyKey, { ...change, archived: true });
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const page = await this.redis.history(room, query);
    try {
      return query.since === undefined ? await this.older(room, query, page) : await this.recovered(room, query, page);
    } catch (err) {
      // A fault of this code stays one, refused as `internal` and logged.
      if (err instanceof BrokerUnavailable || isBug(err)) throw err;
      // The database is away (or refused): the part of history only it holds is out of reach for now.
      throw new BrokerUnavailable();
    }
  }

  private cutoff(): number {
    const now = Date.now();
    return Math.max(
      this.limits.maxAgeMs > 0 ? now - this.limits.maxAgeMs : 0,
      retentionCutoff(this.retentionDays, now),
    );
  }

  /** A page that ran out of Redis's window goes on from the archive, back to the place's first message. */
  private async older(room: string, query: HistoryQuery, page: HistoryPage): Promise<HistoryPage> {
    if (!page.complete) return page;
    const boundary = page.messages[0]?.mid ?? Math.min(query.before ?? page.top + 1, page.top + 1);
    if (boundary <= 1) return page;
    // A join's page never waits for the database: it says there is more, and scroll-back asks the archive for it.
    if (query.before === undefined) return { ...page, complete: false };
    const kept = await this.archive.place(room);
    if (kept === undefined || kept.epoch !== page.epoch) return page;
    // Older messages that are still on their way to the database: the page would skip them.
    if (kept.top < boundary - 1) throw new BrokerUnavailable();
    const wanted = query.limit - page.messages.length;
    if (wanted <= 0) return { ...page, complete: false };
    const archived = await this.archive.page(room, boundary, wanted, this.cutoff());
    const entries = await this.settled(room, archived.entries);
    return { ...page, messages: merged(entries, page.messages), complete: archived.complete };
  }

  /** A `since` older than Redis's window is recovered from the archive, then the window, up to recoveryMax messages. */
  private async recovered(room: string, query: HistoryQuery, page: HistoryPage): Promise<HistoryPage> {
    const since = query.since ?? 0;
    // Without an epoch, a client claims the current one, as answerQuery takes it.
    const epoch = query.epoch ?? page.epoch;
    if (page.complete || epoch !== page.epoch || since > page.top) return page;
    const kept = await this.archive.place(room);
    if (kept === undefined || kept.epoch !== page.epoch || kept.top <= since) return page;
    const archived = await this.archive.since(room, since, this.recoveryMax, this.cutoff());
    if (archived === undefined) return page;
    const rest = await this.redis.history(room, { since: kept.top, epoch: page.epoch, limit: query.limit });
    if (!rest.complete) return page;
    const messages = merged(await this.settled(room, archived), rest.messages);
    if (messages.length > this.recoveryMax) return page;
    return { epoch: page.epoch, top: rest.top, messages, complete: true };
  }

  /**
   * `search` over the archive, as it reads now. The database learns of an
   * edit or a deletion a moment after Redis (the carry), so a hit is checked
   * against what is still on its way: a deleted message's text is never
   * found, even in that moment. Its room asked first, then the database,
   * would leave a gap; the database first, then the changes carried just
   * before are still listed (carry-done.lua keeps them a while).
   */
  async search(ask: SearchAsk): Promise<SearchAnswer> {
    const answer = await this.archive.search(ask);
    if ("refused" in answer || answer.hits.length === 0) return answer;
    const changes = new Map<string, Map<number, CarriedChange>>();
    await Promise.all(
      [...new Set(answer.hits.map((hit) => hit.place))].map(async (place) =>
        changes.set(place, await this.carrier.changesOf(place)),
      ),
    );
    return { ...answer, hits: answer.hits.filter((hit) => stillTrue(hit, changes.get(hit.place)?.get(hit.mid))) };
  }

  /** Entries the database gave for a room, with what it has not taken in yet. */
  private async settled(room: string, entries: Entry[]): Promise<Entry[]> {
    return entries.length === 0 ? entries : settled(entries, await this.carrier.changesOf(room));
  }

  async close(): Promise<void> {
    await this.carrier.stop();
    await this.redis.close();
  }
}
