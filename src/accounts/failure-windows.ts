/** Failed sign-ins per key in fixed windows, in this process's memory: for a store only one process writes. */
export class FailureWindows {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(), 60_000);

  constructor() {
    this.sweeper.unref();
  }

  count(key: string, windowMs: number): { count: number; endsAt: number } {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.endsAt <= now) {
      w = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { ...w };
  }

  get(key: string): { count: number; endsAt: number } {
    const w = this.windows.get(key);
    return w && w.endsAt > Date.now() ? { ...w } : { count: 0, endsAt: 0 };
  }

  clear(key: string): void {
    this.windows.delete(key);
  }

  forgive(key: string): void {
    const w = this.windows.get(key);
    if (w && w.count > 0) w.count--;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, w] of this.windows) if (w.endsAt <= now) this.windows.delete(key);
  }
}
