import type { Ref } from "../protocol/requests.js";

/** Messages of one connection that may wait for the broker at once. */
const MAX_IN_FLIGHT = 64;

/** Who answers a failed request: the connection, told the request's `ref`. */
export interface Refuser {
  refuse(err: unknown, ref: Ref): void;
}

/**
 * One connection's requests, one at a time in the order they came, so that a
 * client's messages keep their order; a request that fails becomes one
 * refusal, carrying its `ref`. Its owner is told, not a closure: a node holds
 * one queue per connection.
 */
export class RequestQueue {
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(private readonly owner: Refuser) {}

  /** Resolves once everything queued so far is done. */
  get settled(): Promise<void> {
    return this.tail;
  }

  /** Runs `task` after everything queued before it; `refOf` names the request should it fail. */
  push(task: () => Promise<void> | undefined, refOf: () => Ref = () => undefined): void {
    this.tail = this.tail.then(task).catch((err: unknown) => this.owner.refuse(err, refOf()));
  }

  /**
   * An operation the next request need not wait for (the broker keeps the
   * order operations were issued in): its failure is refused with `ref`.
   * Returns what to wait for once MAX_IN_FLIGHT are out, so a client that
   * outruns the broker is slowed, not queued without end.
   */
  detach(op: Promise<void>, ref: Ref): Promise<void> | undefined {
    this.inFlight++;
    const settled = op.then(
      () => {
        this.inFlight--;
      },
      (err: unknown) => {
        this.inFlight--;
        this.owner.refuse(err, ref);
      },
    );
    return this.inFlight >= MAX_IN_FLIGHT ? settled : undefined;
  }
}
