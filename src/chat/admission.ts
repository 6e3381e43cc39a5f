import type { Logger } from "pino";
import type { ErrorCode } from "../protocol/errors.js";
import * as frames from "./frames.js";
import type { Meter } from "./meter.js";

/** A connection that can be refused: told why, then closed. */
export interface Refusable {
  send(json: string): void;
  close(code: number, reason: string): void;
}

export interface ConnectionRefusal {
  code: ErrorCode;
  message: string;
  closeCode: number;
  closeReason: string;
}

/**
 * Refuses a connection before it is anyone's business: one `error`, one log
 * line, then the close code. It was never in a room or on a list, so nobody
 * else ever learns of it.
 */
export function refuseConnection(
  conn: Refusable,
  refusal: ConnectionRefusal,
  log: Logger,
  meter: Meter,
  fields: Record<string, unknown> = {},
): void {
  meter.refused(refusal.code);
  log.info({ code: refusal.code, ...fields }, "connection refused");
  conn.send(frames.error(refusal.code, refusal.message, undefined));
  conn.close(refusal.closeCode, refusal.closeReason);
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The connection ends when its token does, unless a fresh one (`auth`) moves the end first. */
export class TokenLease {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onExpiry: () => void) {}

  renew(expiresAt: number): void {
    clearTimeout(this.timer);
    const left = expiresAt - Date.now();
    // A timer waits at most 2^31-1 ms (24.8 days), less than a token may last: a longer wait is taken in steps.
    this.timer = setTimeout(
      () => (left > MAX_TIMER_MS ? this.renew(expiresAt) : this.onExpiry()),
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
    this.timer.unref();
  }

  end(): void {
    clearTimeout(this.timer);
  }
}

/** Open connections per client address (MAX_CONNECTIONS_PER_IP). */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for the address, or returns false when it has none left. */
  acquire(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}
