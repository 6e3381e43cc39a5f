/** A token bucket: `rate` tokens a second, holding at most `burst`. A rate of 0 never refuses. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    if (this.rate === 0) return true;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes `cost` more tokens for work already done (a large reply): the
   * bucket goes into debt by the whole cost, however large, and the requests
   * that follow wait until it has refilled. A floor on the debt would make
   * the largest replies the cheapest per byte.
   */
  charge(cost: number): void {
    if (this.rate === 0 || cost <= 0) return;
    this.refill();
    this.tokens -= cost;
  }

  /** Milliseconds until a token is there to take (0: now). */
  waitMs(): number {
    if (this.rate === 0) return 0;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** Whether it holds a whole burst again: a bucket nobody used lately, no different from a new one. */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/** Counts events in a sliding window of `windowMs`. */
export class WindowCounter {
  private times: number[] = [];

  constructor(private readonly windowMs: number) {}

  /** Records one event; returns how many fall in the window, this one included. */
  hit(): number {
    const now = performance.now();
    this.times.push(now);
    while (this.times.length > 0 && (this.times[0] as number) < now - this.windowMs) this.times.shift();
    return this.times.length;
  }
}
