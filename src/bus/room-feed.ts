import type { Logger } from "pino";
import type { BrokerHandler, HistoryPage } from "./broker.js";
import type { Envelope } from "./envelope.js";
import { MidGate } from "./mid-gate.js";

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

  constructor(
    readonly room: string,
    readonly channel: string,
    private readonly history: FeedHistory,
    private readonly handler: BrokerHandler,
    private readonly log: Logger,
  ) {}

  receive(envelope: Envelope): void {
    if (this.gate.keep(envelope)) return;
    const { mid } = envelope;
    if (mid !== undefined && this.gate.last > 0 && envelope.epoch === this.epoch && mid > this.gate.last + 1) {
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
    if (this.gate.last > 0) void this.catchUp();
  }

  private accept(envelope: Envelope): void {
    if (envelope.mid !== undefined && envelope.epoch !== undefined && envelope.epoch !== this.epoch) {
      if (this.epoch !== "") this.handler.onHistoryReset(this.room, envelope.epoch);
      this.epoch = envelope.epoch;
      this.gate.last = 0;
    }
    if (this.gate.admit(envelope)) this.handler.onRoom(this.room, envelope);
  }

  private async catchUp(): Promise<void> {
    this.gate.hold();
    try {
      const page = await this.history.readSince(this.room, this.gate.last, this.epoch);
      if (!page.complete)
        this.log.warn({ room: this.room, since: this.gate.last }, "history no longer reaches the gap");
      for (const m of page.messages) this.accept({ mid: m.mid, epoch: page.epoch, json: m.json });
    } catch (err) {
      this.log.warn({ err, room: this.room }, "could not read a room's gap from history");
    } finally {
      for (const envelope of this.gate.release()) this.accept(envelope);
    }
  }
}
