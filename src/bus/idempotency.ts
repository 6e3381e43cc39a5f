/**
 * How long a message's idempotency key is remembered. A sender told
 * `unavailable` cannot know whether the store took its message before the
 * link broke; sending it again with the same key within this window stores
 * it at most once.
 */
export const IDEMPOTENCY_WINDOW_S = 120;

/** Keys seen within the window, for the embedded broker; bounded, oldest forgotten first. */
export class RecentKeys<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(private readonly max = 10_000) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > Date.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: Date.now() + IDEMPOTENCY_WINDOW_S * 1000 });
    // Maps iterate in insertion order: the first entries are the oldest.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }
}
