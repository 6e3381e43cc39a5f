import type { Logger } from "pino";
import type { BrokerHandler, HistoryPage } from "./broker.js";
import type { Envelope } from "./envelope.js";
import { MidGate } from "./mid-gate.js";

/** How often, and how far apart, a gap's read is tried while the messages after it wait: about ten seconds. */
const CATCH_UP_TRIES = 20;
const CATCH_UP_RETRY_MS = 500;

/** Where a feed reads what it missed. */
export interface FeedHistory {
  /** Everything the room stored after `since`, counted in `epoch`. */
  readSince(room: string, since: number, epoch: string): Promise<HistoryPage>;
}

/**
 * One room as a node receives it from a bus that can drop publications (a
 * Redis outage, a missed mid): it hands the room's messages on in mid order,
 * each once, and when it sees a gap, or comes back from an outage, it reads
 * the missing ones from history first. A new epoch (history lost) is passed
 * on as a reset.
 */
export class RoomFeed {
  private readonly gate = new MidGate<Envelope>();
  private epoch = "";
  /**
   * Where the room stood when this node read its history (a join), until
   * the first live mid: a gap, or a subscription lost and back, before that
   * mid is filled from there. It never holds back a live mid: a member that
   * came in without reading history still gets what follows its arrival.
   */
  private seen = 0;

  constructor(
    readonly room: string,
    readonly channel: string,
    private readonly history: FeedHistory,
    private readonly handler: BrokerHandler,
    private readonly log: Logger,
  ) {}

  /** The newest mid this node has, live or as history told it. */
  private get position(): number {
    return this.gate.last > 0 ? this.gate.last : this.seen;
  }

  /**
   * The room's `top` and `epoch` as this node just read them: until a live
   * mid comes, the feed knows from there what it missed.
   */
  follow(epoch: string, top: number): void {
    if (this.epoch === "") {
      this.epoch = epoch;
      this.seen = top;
    } else if (epoch === this.epoch && this.gate.last === 0) {
      this.seen = Math.min(this.seen, top);
    }
  }

  /** When a publication last came, or the room was last checked: RedisBroker checks a room quiet for long. */
  quietSince = Date.now();

  /**
   * Whether the room, as Redis holds it now, has what this node never heard:
   * a top above where the feed stands, or another epoch. A subscription can
   * die without the link going down (a Cluster slot moved to another shard):
   * only the store then shows what was missed.
   */
  missed(epoch: string | null, top: number): boolean {
    this.quietSince = Date.now();
    if (this.epoch === "" || epoch === null || this.gate.holding) return false;
    return epoch !== this.epoch || top > this.position;
  }

  receive(envelope: Envelope): void {
    this.quietSince = Date.now();
    if (this.gate.keep(envelope)) return;
    const { mid } = envelope;
    // An epoch the feed does not know yet has no gap: it is where the feed starts.
    if (mid !== undefined && envelope.epoch === this.epoch && mid > this.position + 1) {
      // A mid was skipped: read it from history before going on.
      this.gate.hold();
      this.gate.keep(envelope);
      void this.catchUp();
      return;
    }
    this.accept(envelope);
  }

  /** After a reconnect: reads what was published while this node was away. */
  resume(): void {
    if (this.epoch !== "") void this.catchUp();
  }

  private accept(envelope: Envelope): void {
    if (envelope.mid !== undefined && envelope.epoch !== undefined && envelope.epoch !== this.epoch) {
      if (this.epoch !== "") this.handler.onHistoryReset(this.room, envelope.epoch);
      this.epoch = envelope.epoch;
      this.gate.last = 0;
      this.seen = 0;
    }
    if (this.gate.admit(envelope)) this.handler.onRoom(this.room, envelope);
  }

  private async catchUp(tries = 1): Promise<void> {
    this.gate.hold();
    try {
      const since = this.position;
      const page = await this.history.readSince(this.room, since, this.epoch);
      if (!page.complete) this.log.warn({ room: this.room, since }, "history no longer reaches the gap");
      for (const m of page.messages) this.accept({ mid: m.mid, epoch: page.epoch, json: m.json });
    } catch (err) {
      this.log.warn({ err, room: this.room }, "could not read a room's gap from history");
      // Let through now, what waits would skip the gap for good (Redis restarting answers a moment later).
      if (tries < CATCH_UP_TRIES) {
        setTimeout(() => void this.catchUp(tries + 1), CATCH_UP_RETRY_MS).unref();
        return;
      }
    }
    for (const envelope of this.gate.release()) this.accept(envelope);
  }
}
