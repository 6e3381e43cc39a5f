/** Where an outgoing message is: on its way, or held until the link is back. */
export type OutState = "sending" | "waiting";

export interface Outgoing {
  /**
   * Its idempotency key for as long as it is not acknowledged: every resend
   * carries the same one, so the server stores it once however often the
   * link drops before the `ack` comes.
   */
  readonly ref: string;
  /** The place it was written in. */
  readonly key: string;
  readonly text: string;
  state: OutState;
}

/**
 * The messages the user sent that the server has not acknowledged, in the
 * order they were written: what the log shows as "sending…", and what goes
 * out again, in order and with the same refs, once the link is back.
 */
export class Outbox {
  private readonly items: Outgoing[] = [];
  private written = 0;

  constructor(
    /** Unique to this page, so that no other tab or reload of the same user makes the same refs. */
    private readonly prefix: string,
  ) {}

  /** A new message; `online` says whether it goes out now or waits for the link. */
  add(key: string, text: string, online: boolean): Outgoing {
    return this.again({ ref: `${this.prefix}${++this.written}`, key, text }, online);
  }

  /**
   * A refused message the user sends again: with its old ref, so that if a
   * refusal came after all for a message the server had stored, it is not stored twice.
   */
  again(message: { ref: string; key: string; text: string }, online: boolean): Outgoing {
    const item: Outgoing = { ...message, state: online ? "sending" : "waiting" };
    this.items.push(item);
    return item;
  }

  /** The server stored it, or refused it: either way it leaves the outbox. */
  settled(ref: string): Outgoing | undefined {
    const i = this.items.findIndex((item) => item.ref === ref);
    return i < 0 ? undefined : this.items.splice(i, 1)[0];
  }

  /** The link dropped: whatever was on its way may or may not be stored, and goes again, safely, with its ref. */
  linkLost(): Outgoing[] {
    const changed = this.items.filter((i) => i.state === "sending");
    for (const item of changed) item.state = "waiting";
    return changed;
  }

  /** The link is back: what waits goes out, oldest first. */
  resend(): Outgoing[] {
    const due = this.items.filter((i) => i.state === "waiting");
    for (const item of due) item.state = "sending";
    return due;
  }

  /** Everything not acknowledged, in the order it was written. */
  all(): readonly Outgoing[] {
    return this.items;
  }
}
