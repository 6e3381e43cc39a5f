/** Codes of the `error` action (docs/protocol.md#errors). Each refused request gets exactly one. */
export const ERROR_CODES = [
  "bad_json",
  "bad_request",
  "unknown_action",
  "too_long",
  "bad_text",
  "empty",
  "offline",
  "no_such_user",
  "no_such_message",
  "bad_room",
  "no_such_room",
  "bad_room_name",
  "bad_topic",
  "bad_invitation",
  "too_many_invitations",
  "too_many_created",
  "bad_name",
  "not_in_room",
  "unavailable",
  "rate_limited",
  "over_budget",
  "too_many_new",
  "recipient_busy",
  "too_many_rooms",
  "too_many_connections",
  "too_many_guests",
  "unauthorized",
  "forbidden",
  "not_yours",
  "name_taken",
  "muted",
  "slow_mode",
  "too_many_reports",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A request refused for a reason the client is told, as an `error` with this code. */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds after which the same request would pass, for a refusal that time ends. */
    readonly wait?: number,
  ) {
    super(message);
  }
}
