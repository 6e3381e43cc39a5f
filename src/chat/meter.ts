import type { ErrorCode } from "../protocol/errors.js";

/**
 * What the chat counts. Counters bumped on the hot path are plain numbers:
 * the metrics endpoint (src/metrics.ts) reads them only when scraped, so a
 * delivery costs one increment.
 */
export interface ChatStats {
  framesIn: number;
  framesOut: number;
  deliveries: number;
}

/** Why a request or a connection was refused: an error code, or a connection closed for not reading. */
export type RefusalCode = ErrorCode | "slow_consumer";

export interface Meter {
  readonly stats: ChatStats;
  refused(code: RefusalCode): void;
  /** Starts a timer for one bus publication; call the result when it is done. */
  publishTimer(): () => void;
}
