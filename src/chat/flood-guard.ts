import type { Policy } from "./context.js";
import { TokenBucket, WindowCounter } from "./rate-limit.js";

const FLOOD_WINDOW_MS = 10_000;
/** History bytes that cost one request's worth of the rate budget. */
const HISTORY_BYTES_PER_TOKEN = 8192;
/**
 * Milliseconds of a search that cost one request's worth: at the default
 * RATE_LIMIT of 20 a second, a connection searching as fast as it may keeps
 * the archive busy 100 ms a second, and ten of them one core.
 */
export const SEARCH_MS_PER_TOKEN = 5;

/**
 * What to do with a connection's next request: let it through, refuse it
 * (`first_refusal` opens a flood, which is logged once), or close a
 * connection that kept going after FLOOD_CLOSE_AFTER refusals in 10 s.
 */
export type Verdict = "pass" | "first_refusal" | "refusal" | "close";

/** One connection's rate limit (RATE_LIMIT, RATE_BURST) and flood counter. */
export class FloodGuard {
  private readonly bucket: TokenBucket;
  // Made on first use: most connections never flood, and each costs memory held for its lifetime.
  private floods: WindowCounter | undefined;

  constructor(private readonly policy: Policy) {
    this.bucket = new TokenBucket(policy.rateLimit, policy.rateBurst);
  }

  check(): Verdict {
    if (this.bucket.take()) return "pass";
    this.floods ??= new WindowCounter(FLOOD_WINDOW_MS);
    const floods = this.floods.hit();
    if (floods >= this.policy.floodCloseAfter) return "close";
    return floods === 1 ? "first_refusal" : "refusal";
  }

  /** Seconds until the next request would pass, for a refused one to say. */
  waitSeconds(): number {
    return Math.max(1, Math.ceil(this.bucket.waitMs() / 1000));
  }

  /** A reply of `bytes` costs its size: a small request for a large page must not be cheap to repeat. */
  chargeReply(bytes: number): void {
    this.bucket.charge(Math.floor(bytes / HISTORY_BYTES_PER_TOKEN));
  }

  /** A search costs the time it took: a query that scans much must not be as cheap to repeat as one that does not. */
  chargeWork(ms: number): void {
    this.bucket.charge(Math.floor(ms / SEARCH_MS_PER_TOKEN));
  }
}
