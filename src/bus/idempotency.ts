/**
 * How long a message's idempotency key is remembered. A sender told
 * `unavailable` cannot know whether the store took its message before the
 * link broke; sending it again with the same key within this window stores
 * it at most once.
 */
export const IDEMPOTENCY_WINDOW_S = 120;

/**
 * The idempotency key of a request: its user's `ref`, in a space of its own
 * per action. It is the user's, not the connection's, since the usual reason
 * a reply went missing is a lost connection, and the resend comes on a new
 * one; and a `react` cannot reuse the key of the message it reacts to. JSON
 * keeps the parts apart whatever characters they hold.
 */
export function idempotencyKey(action: string, uid: string, ref: string | number | undefined): string | undefined {
  return ref === undefined ? undefined : JSON.stringify([action, uid, ref]);
}

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
