/**
 * Decides which of a stream of like events gets a log line: the first of
 * each kind, then at most one per interval, carrying how many went unlogged
 * since. A client that can cause an event at will (a refused request) then
 * cannot make the log grow with it; a counter keeps the true number.
 */
export class LogSampler {
  /** Per kind: when the next line may be written, and the events skipped until then. */
  private readonly kinds = new Map<string, { next: number; skipped: number }>();

  constructor(private readonly intervalMs: number) {}

  /**
   * Returns undefined when this event gets no line; otherwise the number of
   * events of its kind that got none since the last line.
   */
  take(kind: string, now = Date.now()): number | undefined {
    const state = this.kinds.get(kind);
    if (state && now < state.next) {
      state.skipped++;
      return undefined;
    }
    const skipped = state?.skipped ?? 0;
    this.kinds.set(kind, { next: now + this.intervalMs, skipped: 0 });
    return skipped;
  }
}
