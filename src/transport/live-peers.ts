/** What the heartbeat asks of a connection. */
export interface Beating {
  heartbeat(): void;
}

/**
 * About how often a slice of the connections gets its heartbeat. Each tick
 * writes to its slice in one callback, and a message that arrives meanwhile
 * waits for it: a 25th of 19,000 connections a second held the event loop
 * long enough to show in a busy room's p99.
 */
export const HEARTBEAT_TICK_MS = 100;

/**
 * A server's open connections, each in the slice of the heartbeat interval
 * it beats on for its whole life. A tick beats one slice, held as its own
 * set, so no tick walks the others; a connection is taken out of its slice
 * as it closes, so a tick never reaches a closed one.
 */
export class LivePeers<P extends Beating> {
  private readonly slices: Set<P>[];
  private joining = 0;
  private beating = 0;
  private count = 0;
  private readonly timer: NodeJS.Timeout;

  /** Starts beating: every connection once per `periodMs`, a slice every HEARTBEAT_TICK_MS or so. */
  constructor(periodMs: number) {
    const slices = Math.max(1, Math.round(periodMs / HEARTBEAT_TICK_MS));
    this.slices = Array.from({ length: slices }, () => new Set<P>());
    this.timer = setInterval(() => this.beat(), periodMs / slices);
    this.timer.unref();
  }

  get size(): number {
    return this.count;
  }

  /**
   * Adds a connection to the next slice in turn, passing over the slices due in the next tenth of the
   * interval: a heartbeat at once would end the poll an HTTP client has just sent. Returns the slice,
   * which `delete` takes back.
   */
  add(peer: P): number {
    const n = this.slices.length;
    const soon = Math.floor(n / 10);
    if ((this.joining - this.beating + n) % n < soon) this.joining = (this.beating + soon) % n;
    const slice = this.joining;
    this.joining = (slice + 1) % n;
    (this.slices[slice] as Set<P>).add(peer);
    this.count++;
    return slice;
  }

  /** Takes a connection out; false when it was not there. */
  delete(peer: P, slice: number): boolean {
    if (!this.slices[slice]?.delete(peer)) return false;
    this.count--;
    return true;
  }

  /** Every open connection, copied: closing them takes them out. */
  all(): P[] {
    return this.slices.flatMap((slice) => [...slice]);
  }

  /** Stops the heartbeats. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Beats the next slice (the timer's tick). A connection closed by an earlier one's heartbeat has left it and is skipped. */
  beat(): void {
    const slice = this.slices[this.beating] as Set<P>;
    this.beating = (this.beating + 1) % this.slices.length;
    for (const peer of slice) peer.heartbeat();
  }
}
