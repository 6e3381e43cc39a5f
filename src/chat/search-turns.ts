/**
 * Searches take turns on a node, one at a time for each user and for each
 * client address: a search waits for the one that user, or anyone from that
 * address, still has running. One person opening many connections, or many
 * guests from one address, then has one search in the archive's queue at a
 * time, and everyone else's wait behind at most that one.
 */
export class SearchTurns {
  /** The newest turn taken under each key: the next one there waits for it. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the turn of `uid` from `address`; call what it returns when the search is done. */
  async take(uid: string, address: string): Promise<() => void> {
    const keys = [`u ${uid}`, `a ${address}`];
    let release: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = keys.map((key) => this.tails.get(key));
    for (const key of keys) this.tails.set(key, done);
    if (before.some((turn) => turn !== undefined)) {
      await Promise.all(before);
      // The turn before ended in a promise's callback: without a step through the event loop, a
      // queue of searches on the embedded engine (which runs on this thread) would run back to
      // back, and nobody else's frames would be read until the last was done.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return () => {
      release();
      for (const key of keys) if (this.tails.get(key) === done) this.tails.delete(key);
    };
  }

  /** Keys with a search running or waiting: none once every turn is done. */
  get size(): number {
    return this.tails.size;
  }
}
