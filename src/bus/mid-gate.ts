/**
 * The one place that decides whether a room publication goes on: each mid
 * once and only upwards, and nothing at all while a catch-up from history is
 * under way (what arrives meanwhile waits, and is offered again after it).
 * A node keeps one per room it subscribes to (RoomFeed), and the hub one per
 * member of a local room, for the member's join.
 */
export class MidGate<T extends { mid?: number }> {
  /** The newest mid let through; 0 before any. */
  last = 0;
  private waiting: T[] | undefined;

  get holding(): boolean {
    return this.waiting !== undefined;
  }

  /** From now on, keep what arrives until release(). */
  hold(): void {
    this.waiting ??= [];
  }

  /** Keeps the item while holding; true when it was kept. */
  keep(item: T): boolean {
    if (!this.waiting) return false;
    this.waiting.push(item);
    return true;
  }

  /** Whether the item goes on: unnumbered ones always, numbered ones above `last`, which then moves up. */
  admit(item: T): boolean {
    if (item.mid === undefined) return true;
    if (item.mid <= this.last) return false;
    this.last = item.mid;
    return true;
  }

  /** Ends the hold; returns what waited, in arrival order, for the caller to admit. */
  release(): T[] {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    return waiting;
  }
}
