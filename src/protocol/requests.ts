import { z } from "zod";
import { RequestError } from "./errors.js";
import { visibility } from "./rooms.js";

/** Echoed on every reply to the request that carried it; on a `message` or `dm`, also its idempotency key. */
export const ref = z.union([z.string().max(64), z.number().finite()]).optional();
export type Ref = z.output<typeof ref>;

/** The most messages one `history` page may hold: a screenful or two, not a download. */
export const HISTORY_PAGE_MAX = 100;

/** The most hits one `search` reply may hold. */
export const SEARCH_PAGE_MAX = 50;
/** The longest query `search` takes (characters); longer ones get `too_long`. */
export const SEARCH_QUERY_MAX = 256;

const roomName = z.string();
const text = z.string();
const mid = z.number().int().nonnegative();
const epoch = z.string().max(64);
/** A user id: a token's `sub`, or a guest id the server made. */
export const userId = z.string().min(1).max(128);

/** The reactions a message can have: a fixed set, so a reaction is never free text. */
export const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"] as const;

/** The longest a ban or mute may be given for (a year); without `seconds` it lasts until lifted. */
export const SANCTION_MAX_SECONDS = 365 * 24 * 3600;
const sanctionSeconds = z.number().int().min(1).max(SANCTION_MAX_SECONDS);
/** The longest slow mode: an hour between two messages of one person. */
export const SLOW_MAX = 3600;
/** Why a moderator acted, or a user reported: a line, not an essay. */
export const REASON_MAX = 200;
const reason = z.string().max(REASON_MAX);
/** Where a page of a log ends: the `next` of the page before. */
const cursor = z.number().int().min(1);

/** `room` names a room, `with` the other user of a conversation; never both. */
const oneOf = (r: { room?: string; with?: string }) => r.room === undefined || r.with === undefined;
const ONE_OF = { message: "give 'room' or 'with', not both" };

/**
 * What a client may send, one schema per action (docs/protocol.md#what-a-client-sends).
 * z.object drops keys it does not know, which is what keeps client-invented
 * fields from ever being relayed.
 */
export const requestSchemas = {
  message: z.object({ action: z.literal("message"), message: text, room: roomName.optional(), ref }),
  dm: z.object({ action: z.literal("dm"), to: userId, message: text, ref }),
  pm: z.object({
    action: z.literal("pm"),
    // The original page adds the target's `name` or `user`: dropped, routing is by id alone.
    target: z.object({ id: z.string().min(1).max(128) }),
    message: text,
    ref,
  }),
  join: z
    .object({
      action: z.literal("join"),
      room: roomName.optional(),
      with: userId.optional(),
      since: mid.optional(),
      epoch: epoch.optional(),
      ref,
    })
    .refine((r) => (r.room === undefined) !== (r.with === undefined), { message: "give 'room' or 'with'" }),
  leave: z.object({ action: z.literal("leave"), room: roomName, ref }),
  nick: z.object({ action: z.literal("nick"), name: z.string(), ref }),
  typing: z
    .object({ action: z.literal("typing"), room: roomName.optional(), with: userId.optional(), ref })
    .refine(oneOf, ONE_OF),
  users: z.object({
    action: z.literal("users"),
    room: roomName.optional(),
    // The `next` of the page before, for the rooms too big to list at once.
    after: z.string().max(64).optional(),
    ref,
  }),
  history: z
    .object({
      action: z.literal("history"),
      room: roomName.optional(),
      with: userId.optional(),
      // mid 1 is the first: nothing is older than it.
      before: z.number().int().min(1).optional(),
      /** A page with messages on both sides of this mid, and it (jumping to a search hit or a link). */
      around: z.number().int().min(1).optional(),
      limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(),
      ref,
    })
    .refine(oneOf, ONE_OF)
    .refine((r) => r.before === undefined || r.around === undefined, {
      message: "give 'before' or 'around', not both",
    }),
  /**
   * Finds messages in the rooms the user is in and in their own conversations
   * (or only in `room`, or only the conversation `with`), newest first.
   * `q` is checked by the server, not here, so that its refusals carry their
   * own codes (`too_long`, `empty`).
   */
  search: z
    .object({
      action: z.literal("search"),
      // Bounded far above SEARCH_QUERY_MAX only so a huge string is not parsed further.
      q: z.string().max(SEARCH_QUERY_MAX * 16),
      room: roomName.optional(),
      with: userId.optional(),
      /** The `next` of the reply before: the hits older than it. */
      before: z.string().max(512).optional(),
      limit: z.number().int().min(1).max(SEARCH_PAGE_MAX).optional(),
      ref,
    })
    .refine(oneOf, ONE_OF),
  read: z
    .object({
      action: z.literal("read"),
      room: roomName.optional(),
      with: userId.optional(),
      mid,
      epoch,
      ref,
    })
    .refine(oneOf, ONE_OF),
  /** Changes the text of one's own message `mid`. */
  edit: z
    .object({ action: z.literal("edit"), room: roomName.optional(), with: userId.optional(), mid, message: text, ref })
    .refine(oneOf, ONE_OF),
  /** Deletes one's own message `mid`. */
  delete: z
    .object({ action: z.literal("delete"), room: roomName.optional(), with: userId.optional(), mid, ref })
    .refine(oneOf, ONE_OF),
  /** Adds (or, with `remove`, takes back) one's reaction to message `mid`. */
  react: z
    .object({
      action: z.literal("react"),
      room: roomName.optional(),
      with: userId.optional(),
      mid,
      emoji: z.enum(REACTIONS),
      remove: z.boolean().optional(),
      ref,
    })
    .refine(oneOf, ONE_OF),
  /** Moderation (docs/protocol.md#moderation): each needs the caller's role in `room` to be moderator or more. */
  kick: z.object({ action: z.literal("kick"), room: roomName, user: userId, reason: reason.optional(), ref }),
  ban: z.object({
    action: z.literal("ban"),
    room: roomName,
    user: userId,
    seconds: sanctionSeconds.optional(),
    reason: reason.optional(),
    ref,
  }),
  unban: z.object({ action: z.literal("unban"), room: roomName, user: userId, ref }),
  mute: z.object({
    action: z.literal("mute"),
    room: roomName,
    user: userId,
    seconds: sanctionSeconds.optional(),
    reason: reason.optional(),
    ref,
  }),
  unmute: z.object({ action: z.literal("unmute"), room: roomName, user: userId, ref }),
  /** A moderator's deletion of anyone's message. */
  remove: z.object({ action: z.literal("remove"), room: roomName, mid, reason: reason.optional(), ref }),
  /** At most one message per `seconds` per person in the room; 0 ends slow mode. */
  slow: z.object({ action: z.literal("slow"), room: roomName, seconds: z.number().int().min(0).max(SLOW_MAX), ref }),
  /** Pins message `mid` in the room's header; without `mid`, unpins. */
  pin: z.object({ action: z.literal("pin"), room: roomName, mid: mid.optional(), ref }),
  /** A page of the room's moderation log, newest first, older than `before`. */
  modlog: z.object({ action: z.literal("modlog"), room: roomName, before: cursor.optional(), ref }),
  /** Anyone in a room may report a message in it to its moderators. */
  report: z.object({ action: z.literal("report"), room: roomName, mid, reason: reason.optional(), ref }),
  /** A page of the room's reports, newest first, older than `before`: for its moderators. */
  reports: z.object({ action: z.literal("reports"), room: roomName, before: cursor.optional(), ref }),
  /** Hides a user's direct messages, mentions and conversation hints from the caller; they are not told. */
  block: z.object({ action: z.literal("block"), user: userId, ref }),
  unblock: z.object({ action: z.literal("unblock"), user: userId, ref }),
  /**
   * A fresh token (`token`) on an open connection; or, as the first frame of
   * a connection opened with `?auth=first`, who it is: a sign-in `ticket`, a
   * `token`, a `guest` token, or none of them for a new guest.
   */
  auth: z.object({
    action: z.literal("auth"),
    token: z.string().min(1).max(8192).optional(),
    ticket: z.string().min(1).max(2048).optional(),
    guest: z.string().min(1).max(2048).optional(),
    ref,
  }),
  /** A page of the room directory: public and read-only rooms, by name, `q` in the name if given. */
  rooms: z.object({
    action: z.literal("rooms"),
    q: z.string().max(64).optional(),
    // The `next` of the page before.
    after: z.string().max(256).optional(),
    ref,
  }),
  /** Makes a room with the caller as its owner; the reply is its `room` frame. The id comes from the name. */
  room_create: z.object({
    action: z.literal("room_create"),
    name: z.string().max(1024),
    topic: z.string().max(4096).optional(),
    visibility: visibility.optional(),
    ref,
  }),
  /**
   * Changes a room's display name, topic or visibility (its owner's, or a
   * moderator's for the topic). A private room stays private, and no other
   * becomes private: a private room's id has a shape of its own.
   */
  room_update: z.object({
    action: z.literal("room_update"),
    room: roomName,
    name: z.string().max(1024).optional(),
    topic: z.string().max(4096).optional(),
    visibility: z.enum(["public", "readonly"]).optional(),
    ref,
  }),
  /** Invites user `uid` into a private room: their next `join` of it makes them a member. */
  invite: z.object({ action: z.literal("invite"), room: roomName, uid: userId, ref }),
  /** Makes an invitation link: its token lets `uses` people in within `hours`. */
  invite_link: z.object({
    action: z.literal("invite_link"),
    room: roomName,
    uses: z.number().int().min(1).max(1000).optional(),
    hours: z.number().int().min(1).max(720).optional(),
    ref,
  }),
  /** Redeems an invitation link's token: the caller becomes a member, and the reply is the room's `room` frame. */
  accept: z.object({ action: z.literal("accept"), token: z.string().min(1).max(256), ref }),
  /** A page of a room's members, online or not (in a public room: those who hold a role or joined it). */
  members: z.object({ action: z.literal("members"), room: roomName, after: z.string().max(256).optional(), ref }),
  /** The owner names a moderator (`moderator`) or takes that back (`member`). */
  role: z.object({
    action: z.literal("role"),
    room: roomName,
    uid: userId,
    role: z.enum(["moderator", "member"]),
    ref,
  }),
  /** A page of the people directory: accounts whose name holds `q`. */
  people: z.object({
    action: z.literal("people"),
    q: z.string().max(64).optional(),
    after: z.string().max(256).optional(),
    ref,
  }),
  /**
   * Asks for a `pong`: a link that drops packets silently looks open to both
   * ends, and only an answer that is due and does not come tells the client.
   */
  ping: z.object({ action: z.literal("ping"), ref }),
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
  /** `?guest=`: the guest token the server gave this client before, to be the same user again. */
  guest: string | undefined;
  /** A sign-in ticket (POST /auth/ticket): only ever in the first frame, never in the URL. */
  ticket?: string;
  /** `?auth=first`: who the client is comes in its first frame, an `auth`, not in the URL that proxies log. */
  firstFrame: boolean;
  /** False for `?lobby=0`: the client joins its rooms itself. */
  lobby: boolean;
  /**
   * `?proto=2`: the client understands what the original page does not
   * (coalesced `presence`, conversations, read state, `joined`); without it a
   * connection gets the original protocol's frames, and is a new guest each time.
   */
  proto: 1 | 2;
}

export function parseConnectQuery(query: string): ConnectOptions {
  const params = new URLSearchParams(query);
  return {
    token: params.get("token") ?? undefined,
    guest: params.get("guest") ?? undefined,
    lobby: params.get("lobby") !== "0",
    proto: params.get("proto") === "2" ? 2 : 1,
    firstFrame: params.get("auth") === "first",
  };
}
