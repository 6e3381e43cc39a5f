/** Failed sign-ins against one key (an account or an address) in its current window, and when that window ends. */
export interface FailureCount {
  count: number;
  endsAt: number;
}

/** Where failed sign-ins are counted: what every node that signs people in must share. */
export interface FailureCounts {
  /** Counts one failure against `key` in a window of `windowMs`: the failures in the window so far. */
  count(key: string, windowMs: number): Promise<FailureCount>;
  get(key: string): Promise<FailureCount>;
  clear(key: string): Promise<void>;
  /** Takes back one failure: the attempt it stood for succeeded. */
  forgive(key: string): Promise<void>;
  close(): void;
}

/** Failed sign-ins per key in fixed windows, in this process's memory: for a store only one process writes. */
export class FailureWindows implements FailureCounts {
  private readonly windows = new Map<string, FailureCount>();
  private readonly sweeper = setInterval(() => this.sweep(), 60_000);

  constructor() {
    this.sweeper.unref();
  }

  async count(key: string, windowMs: number): Promise<FailureCount> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.endsAt <= now) {
      w = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { ...w };
  }

  async get(key: string): Promise<FailureCount> {
    const w = this.windows.get(key);
    return w && w.endsAt > Date.now() ? { ...w } : { count: 0, endsAt: 0 };
  }

  async clear(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async forgive(key: string): Promise<void> {
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
