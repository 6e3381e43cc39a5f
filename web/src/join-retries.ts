import { retryDelay } from "./backoff.js";

/**
 * Joins the server refused for now (`unavailable`: the Redis shard that keeps
 * the place is away), tried again with the reconnect's back-off until one is
 * answered.
 *
 * A place rejoined from where the page stands (`since`) takes no live frame
 * until its history comes: a join that succeeds sends nothing live before its
 * history, but one refused has already made the connection a member, and what
 * the node holds for the place comes before the refusal. Shown, those would
 * move the place past the messages it missed, and the next try's history would
 * skip them without a word.
 */
export class JoinRetries {
  /** Places rejoined from `since` whose history has not come yet. */
  private readonly rejoining = new Set<string>();
  private readonly tries = new Map<string, { failures: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly join: (key: string) => void) {}

  /** A place was rejoined from where the page stands: its live frames wait for the history. */
  rejoined(key: string): void {
    this.rejoining.add(key);
  }

  /** Whether a live frame for `key` is to be left to the join's history. */
  holds(key: string): boolean {
    return this.rejoining.has(key);
  }

  /** The join of `key` was refused for now: it is sent again after a while. Returns how many times in a row. */
  refused(key: string): number {
    const failures = (this.tries.get(key)?.failures ?? 0) + 1;
    clearTimeout(this.tries.get(key)?.timer);
    const timer = setTimeout(() => this.join(key), retryDelay(failures, Math.random()));
    this.tries.set(key, { failures, timer });
    return failures;
  }

  /** The join of `key` was answered, or refused for good: nothing more to wait for. */
  settled(key: string): void {
    this.rejoining.delete(key);
    clearTimeout(this.tries.get(key)?.timer);
    this.tries.delete(key);
  }

  /** The link went down: its next link rejoins every place anyway. */
  clear(): void {
    for (const { timer } of this.tries.values()) clearTimeout(timer);
    this.tries.clear();
    this.rejoining.clear();
  }
}
