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
  | "name_taken"
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
/** The most messages one `history` page may hold: a screenful or two, not a download. */
export const HISTORY_PAGE_MAX = 100;
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
    // mid 1 is the first: nothing is older than it.
    before: z.number().int().min(1).optional(),
    limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(),
    ref,
  }),
  auth: z.object({ token: z.string().min(1).max(8192), ref }),
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

// Characters that draw nothing or change how the rest is drawn: controls,
// format characters (bidi overrides, zero-width joiners, the soft hyphen),
// default-ignorable ones (the combining grapheme joiner, Hangul fillers),
// private use, unassigned code points and line or paragraph separators.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
// Spaces, marks and the blank braille pattern: a name of only these looks empty.
const BLANK = /^[\p{White_Space}\p{M}\u2800]*$/u;
/** Labels the web client gives things; a name must not pass for them. */
const RESERVED = new Set(["you"]);

/**
 * A name as it will be shown: NFKC-normalised (so that full-width and other
 * compatibility forms become what they look like), runs of spaces made one,
 * trimmed. Refused if empty, too long, blank when drawn, holding a character
 * that draws nothing or rearranges the rest, or one of the client's labels.
 */
export function checkName(raw: string, limits: Limits): string {
  // Variation selectors only pick a glyph style (❤ or ❤️): dropped, not refused.
  const name = raw
    .normalize("NFKC")
    .replace(/[\ufe00-\ufe0f]/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
  if (name.length === 0) throw new RequestError("bad_name", "name must not be empty");
  if (name.length > limits.maxNameLength) {
    throw new RequestError("bad_name", `name is longer than ${limits.maxNameLength} characters`);
  }
  if (HIDDEN.test(name)) throw new RequestError("bad_name", "name contains invisible or control characters");
  if (BLANK.test(name)) throw new RequestError("bad_name", "name would show as blank");
  if (RESERVED.has(foldName(name))) throw new RequestError("bad_name", `'${name}' is reserved`);
  return name;
}

/** What two names are compared by: 'ALICE', 'alice' and 'Ａｌｉｃｅ' are one name. */
export function foldName(name: string): string {
  return name.normalize("NFKC").toLowerCase();
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
