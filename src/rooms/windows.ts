/**
 * Fixed windows counted in this process: the SQL store's slow-mode turns and
 * report counts, for the one process that keeps a database alone (Redis
 * counts with SET NX and INCR instead, for every node at once).
 */
export class Windows {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  /** Counts one in `key`'s window of `seconds`; 0 while within `max`, else the seconds until the window ends. */
  count(key: string, seconds: number, max: number): number {
    const now = Date.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + seconds * 1000 };
      this.windows.set(key, window);
    }
    if (window.count >= max) return Math.max(1, Math.ceil((window.endsAt - now) / 1000));
    window.count++;
    return 0;
  }

  /** Ended windows go as new ones come, so a key seen once is not held forever. */
  private sweep(now: number): void {
    if (this.windows.size < 1024) return;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}
