import { z } from "zod";

/** Codes of the `error` action. Each refused request gets exactly one. */
export type ErrorCode =
  | "bad_json"
  | "bad_request"
  | "unknown_action"
  | "too_long"
  | "empty"
  | "offline"
  | "bad_room"
  | "bad_name"
  | "not_in_room"
  | "unavailable"
  | "rate_limited"
  | "too_many_rooms"
  | "too_many_connections"
  | "unauthorized"
  | "forbidden"
  | "internal";

export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Limits {
  maxMessageLength: number;
  maxNameLength: number;
  maxRoomLength: number;
}

const ref = z.union([z.string().max(64), z.number().finite()]).optional();
const roomName = z.string();
const text = z.string();
const mid = z.number().int().nonnegative();

/**
 * Client requests. z.object drops keys it does not know, which is what keeps
 * client-invented fields from ever being relayed.
 */
export const requestSchemas = {
  message: z.object({ message: text, room: roomName.optional(), ref }),
  pm: z.object({
    target: z.object({ id: z.string().min(1).max(128) }),
    message: text,
    ref,
  }),
  join: z.object({ room: roomName, since: mid.optional(), epoch: z.string().max(64).optional(), ref }),
  leave: z.object({ room: roomName, ref }),
  nick: z.object({ name: z.string(), ref }),
  typing: z.object({ room: roomName.optional(), ref }),
  users: z.object({ room: roomName.optional(), ref }),
  history: z.object({
    room: roomName.optional(),
    before: mid.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    ref,
  }),
} as const;

export type Action = keyof typeof requestSchemas;
export type Request = { [A in Action]: { action: A } & z.output<(typeof requestSchemas)[A]> }[Action];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turns one SockJS frame into a request, or throws a RequestError saying why not. */
export function parseRequest(raw: string): Request {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new RequestError("bad_json", "frame is not valid JSON");
  }
  if (!isPlainObject(value)) throw new RequestError("bad_request", "frame must be a JSON object");
  const action = value.action;
  if (typeof action !== "string") throw new RequestError("bad_request", "field 'action' must be a string");
  if (!Object.hasOwn(requestSchemas, action)) {
    throw new RequestError("unknown_action", `unknown action '${action.slice(0, 32)}'`);
  }
  const schema = requestSchemas[action as Action];
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `field '${issue.path.join(".")}'` : "request";
    throw new RequestError("bad_request", `${where}: ${issue?.message ?? "invalid"}`);
  }
  return { action, ...parsed.data } as Request;
}

/** Reads `ref` off a frame that failed to parse, so even its error can echo it. */
export function salvageRef(raw: string): string | number | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    if (isPlainObject(v)) {
      const r = ref.safeParse(v.ref);
      if (r.success) return r.data;
    }
  } catch {
    // not JSON: there is no ref to echo
  }
  return undefined;
}

// C0/C1 controls, plus the bidi overrides and zero-width characters that let a
// name impersonate another when rendered.
const forbiddenInNames = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

export function checkName(raw: string, limits: Limits): string {
  const name = raw.trim().normalize("NFC");
  if (name.length === 0) throw new RequestError("bad_name", "name must not be empty");
  if (name.length > limits.maxNameLength) {
    throw new RequestError("bad_name", `name is longer than ${limits.maxNameLength} characters`);
  }
  if (forbiddenInNames.test(name)) throw new RequestError("bad_name", "name contains control characters");
  return name;
}

const roomPattern = /^[a-z0-9][a-z0-9_-]*$/;

export function checkRoom(raw: string, limits: Limits): string {
  const room = raw.trim().toLowerCase();
  if (room.length === 0 || room.length > limits.maxRoomLength || !roomPattern.test(room)) {
    throw new RequestError(
      "bad_room",
      `room must be 1-${limits.maxRoomLength} of a-z 0-9 _ - and start with a letter or digit`,
    );
  }
  return room;
}

export function checkText(raw: string, limits: Limits): string {
  if (raw.trim().length === 0) throw new RequestError("empty", "message is empty");
  if (raw.length > limits.maxMessageLength) {
    throw new RequestError("too_long", `message is longer than ${limits.maxMessageLength} characters`);
  }
  return raw;
}
