import { z } from "zod";
import { RequestError } from "./errors.js";

/** Echoed on every reply to the request that carried it; on a `message`, also its idempotency key. */
export const ref = z.union([z.string().max(64), z.number().finite()]).optional();
export type Ref = z.output<typeof ref>;

/** The most messages one `history` page may hold: a screenful or two, not a download. */
export const HISTORY_PAGE_MAX = 100;

const roomName = z.string();
const text = z.string();
const mid = z.number().int().nonnegative();

/**
 * What a client may send, one schema per action (docs/protocol.md#what-a-client-sends).
 * z.object drops keys it does not know, which is what keeps client-invented
 * fields from ever being relayed.
 */
export const requestSchemas = {
  message: z.object({ action: z.literal("message"), message: text, room: roomName.optional(), ref }),
  pm: z.object({
    action: z.literal("pm"),
    // The original page adds the target's `name` or `user`: dropped, routing is by id alone.
    target: z.object({ id: z.string().min(1).max(128) }),
    message: text,
    ref,
  }),
  join: z.object({
    action: z.literal("join"),
    room: roomName,
    since: mid.optional(),
    epoch: z.string().max(64).optional(),
    ref,
  }),
  leave: z.object({ action: z.literal("leave"), room: roomName, ref }),
  nick: z.object({ action: z.literal("nick"), name: z.string(), ref }),
  typing: z.object({ action: z.literal("typing"), room: roomName.optional(), ref }),
  users: z.object({ action: z.literal("users"), room: roomName.optional(), ref }),
  history: z.object({
    action: z.literal("history"),
    room: roomName.optional(),
    // mid 1 is the first: nothing is older than it.
    before: z.number().int().min(1).optional(),
    limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(),
    ref,
  }),
  auth: z.object({ action: z.literal("auth"), token: z.string().min(1).max(8192), ref }),
} as const;

export type Action = keyof typeof requestSchemas;
/** A request as the server reads it, after validation. */
export type Request = { [A in Action]: z.output<(typeof requestSchemas)[A]> }[Action];
export type RequestOf<A extends Action> = z.output<(typeof requestSchemas)[A]>;
/** A request as a client may write it. */
export type ClientRequest = { [A in Action]: z.input<(typeof requestSchemas)[A]> }[Action];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turns one SockJS message into a request, or throws a RequestError saying why not. */
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
  const parsed = requestSchemas[action as Action].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `field '${issue.path.join(".")}'` : "request";
    throw new RequestError("bad_request", `${where}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** Reads `ref` off a message that failed to parse, so even its error can echo it. */
export function salvageRef(raw: string): Ref {
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

/** What the SockJS URL's query asks of a new connection (docs/protocol.md#connecting). */
export interface ConnectOptions {
  /** `?token=`: the JWT a server with AUTH_SECRET admits the connection by. */
  token: string | undefined;
  /** False for `?lobby=0`: the client joins its rooms itself. */
  lobby: boolean;
}

export function parseConnectQuery(query: string): ConnectOptions {
  const params = new URLSearchParams(query);
  return { token: params.get("token") ?? undefined, lobby: params.get("lobby") !== "0" };
}
