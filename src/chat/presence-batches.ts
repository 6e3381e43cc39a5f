import type { Person } from "../protocol/frames.js";

/** A big room's count is published at most this often by one node. */
const BIG_ROOM_EVERY_MS = 1000;

interface Batch {
  joined: Map<string, Person>;
  left: Map<string, Person>;
  count: number;
  /** The count is this node's users only: the other nodes could not be asked. */
  partial: boolean;
}

/**
 * Arrivals and departures in a room, gathered for one step and published as
 * one `presence` frame: a crowd arriving at once costs each member one frame
 * per step, not one per person. In a room of `bigRoom` users or more, nobody
 * is named, only the count changes, and at most once a second.
 */
export class PresenceBatches {
  private readonly batches = new Map<string, Batch>();
  /** The count each big room was last published with from here. */
  private readonly published = new Map<string, number>();

  constructor(
    private readonly bigRoom: number,
    private readonly publish: (room: string, joined: Person[], left: Person[], count: number, partial: boolean) => void,
  ) {}

  joined(room: string, who: Person, count: number, partial = false): void {
    const batch = this.batchOf(room, count, partial);
    // A departure and a return within one step cancel out.
    if (!batch.left.delete(who.uid)) batch.joined.set(who.uid, who);
  }

  left(room: string, who: Person, count: number): void {
    const batch = this.batchOf(room, count, false);
    if (!batch.joined.delete(who.uid)) batch.left.set(who.uid, who);
  }

  private batchOf(room: string, count: number, partial: boolean): Batch {
    let batch = this.batches.get(room);
    if (!batch) {
      batch = { joined: new Map(), left: new Map(), count, partial };
      this.batches.set(room, batch);
      if (count >= this.bigRoom) setTimeout(() => this.flush(room), BIG_ROOM_EVERY_MS).unref();
      else setImmediate(() => this.flush(room));
    }
    batch.count = count;
    batch.partial = partial;
    return batch;
  }

  private flush(room: string): void {
    const batch = this.batches.get(room);
    if (!batch) return;
    this.batches.delete(room);
    if (batch.count >= this.bigRoom) {
      if (this.published.get(room) === batch.count) return;
      this.published.set(room, batch.count);
      this.publish(room, [], [], batch.count, batch.partial);
      return;
    }
    this.published.delete(room);
    if (batch.joined.size === 0 && batch.left.size === 0) return;
    this.publish(room, [...batch.joined.values()], [...batch.left.values()], batch.count, batch.partial);
  }
}
