import { BrokerUnavailable } from "../bus/broker.js";
import { type ErrorCode, RequestError } from "../protocol/errors.js";
import { ModerationUnavailable } from "../rooms/moderation-store.js";
import { UserStoreUnavailable } from "../users/user-store.js";

/** What a client is told about a request that failed, and whether the failure is the server's fault. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  /** Seconds until the same request would pass. */
  wait?: number;
  /** Set for a fault of the server's: logged with its stack, never sent. */
  fault?: unknown;
}

export function refusalOf(err: unknown): Refusal {
  if (err instanceof RequestError) return { code: err.code, message: err.message, wait: err.wait };
  if (err instanceof BrokerUnavailable || err instanceof UserStoreUnavailable || err instanceof ModerationUnavailable) {
    return { code: "unavailable", message: "the chat cannot reach its other nodes right now; try again" };
  }
  return { code: "internal", message: "the server could not complete this request", fault: err };
}
