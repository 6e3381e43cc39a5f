import { z } from "zod";
import { ERROR_CODES } from "./errors.js";
import { profileFrame } from "./profile.js";
import { REACTIONS, ref } from "./requests.js";
import { role, visibility } from "./rooms.js";

/**
 * What the server sends, one schema per action (docs/protocol.md#what-the-server-sends).
 * The server builds every frame from these types (src/chat/frames.ts), the
 * web client reads them with these types, and the tests check each frame
 * they receive against these schemas: a frame that drifts from its
 * definition is a compile error or a failing test.
 */

/** A connection id: the original protocol's `id`, and where its `pm` goes. */
const id = z.string();
/** A user id: the same on every connection of one person. */
const uid = z.string();
const name = z.string();
const room = z.string();
const mid = z.number().int().positive();
/** Someone in a room: one of their connections, the person, their name. */
const person = { id, uid, name };
export const personSchema = z.object(person);

const messageFields = { room, message: z.string(), ...person, ts: z.number() };

/** A room message as it is stored and replayed: numbered. */
export const storedMessage = z.object({ action: z.literal("message"), mid, ...messageFields });

/** A message that only the sender's node got while the other nodes were out of reach: no mid, not stored. */
export const localMessage = z.object({ action: z.literal("message"), ...messageFields, local: z.literal(true) });

/**
 * A direct message, the same bytes for both members of the conversation:
 * `uid` wrote it, `to` is the other member (each member's peer is whichever
 * of the two is not itself).
 */
const dmFields = { ...person, to: uid, message: z.string(), ts: z.number() };
export const storedDm = z.object({ action: z.literal("dm"), mid, ...dmFields });
export const localDm = z.object({ action: z.literal("dm"), ...dmFields, local: z.literal(true) });

/**
 * A change to message `target`, stored in the same history with a mid of its
 * own, so that a joiner, a page of scroll-back and a recovery with `since`
 * all see it, each once. `uid` made the change; in a conversation `to` is the
 * other member, as in a `dm`.
 */
const changeFields = { mid, target: mid, ...person, ts: z.number(), room: room.optional(), to: uid.optional() };
export const storedEdit = z.object({ action: z.literal("edit"), ...changeFields, message: z.string() });
export const storedDelete = z.object({
  action: z.literal("delete"),
  ...changeFields,
  /** Set when a moderator removed someone else's message (`uid` is the moderator). */
  moderator: z.literal(true).optional(),
});
export const storedReact = z.object({
  action: z.literal("react"),
  ...changeFields,
  emoji: z.enum(REACTIONS),
  /** False when `uid` took the reaction back. */
  on: z.boolean(),
});
/** Anything a history holds: messages, and changes to them. */
export const storedEntry = z.union([storedMessage, storedDm, storedEdit, storedDelete, storedReact]);

/** Someone named in a moderation log or a report. */
const who = z.object({ uid, name });

export const MODERATION_ACTIONS = ["kick", "ban", "unban", "mute", "unmute", "remove", "slow", "pin"] as const;

/** One moderator's action, as the room's log keeps it. */
export const modlogEntry = z.object({
  id: z.number().int().positive(),
  ts: z.number(),
  action: z.enum(MODERATION_ACTIONS),
  by: who,
  /** Whom a kick, ban, mute or their lifting was for. */
  user: who.optional(),
  /** The message removed or pinned (none: unpinned). */
  mid: mid.optional(),
  /** How long a ban or mute lasts (none: until lifted), or slow mode's seconds. */
  seconds: z.number().int().nonnegative().optional(),
  reason: z.string().optional(),
});

/** A report of one message, with what was around it when a moderator reads it. */
export const reportEntry = z.object({
  id: z.number().int().positive(),
  ts: z.number(),
  by: who,
  mid,
  reason: z.string().optional(),
  /** The stored entries around the message, oldest first, the message among them unless it is no longer kept. */
  context: z.array(storedEntry),
});

/** A `[start, end)` range of UTF-16 code units in a hit's `message`: where a term of the query matched. */
const matchRange = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);

/**
 * One message a search found, as it reads now (an edited message with its
 * newest text; a deleted one is never a hit). `room` for a room message;
 * `with` for a direct message: the other member of the searcher's conversation.
 */
export const searchHit = z.object({
  room: room.optional(),
  with: uid.optional(),
  mid,
  ...person,
  ts: z.number(),
  message: z.string(),
  /** Set when the message was edited: the time of its newest edit. */
  edited: z.number().optional(),
  matches: z.array(matchRange),
});

/** The original page reads the target's name as `user` in some places and `name` in others. */
const pmTarget = z.object({ id, name, user: name });

/** Where a per-user frame points: a room, or the conversation with `with`. */
const roomOrWith = { room: room.optional(), with: uid.optional() };

/** A room's properties; `room` is its id, which never changes, `name` what it is shown as. */
const roomFields = {
  room,
  name: z.string(),
  topic: z.string(),
  visibility,
  /** Who made it; absent for the lobby and rooms made by a `join`, which the server's admins hold. */
  creator: uid.optional(),
  created: z.number(),
  /**
   * The room's version: the server counts each change of its name, topic or visibility. Two nodes
   * may announce two changes in either order; a page keeps what the highest `v` it was sent says.
   */
  v: z.number().int().nonnegative(),
};
export const roomInfo = z.object(roomFields);

export const serverFrames = {
  user_info: z.object({
    action: z.literal("user_info"),
    ...person,
    /** To a `proto=2` guest: the token that makes it the same user next time (`?guest=`). */
    guest: z.string().optional(),
    /** To `proto=2`: the rooms this user is in, to join again. */
    rooms: z.array(room).optional(),
    /** To `proto=2`: this user's conversations, most recent first. */
    conversations: z.array(z.object({ uid, name })).optional(),
    /** To `proto=2`: the users this user has blocked. */
    blocked: z.array(z.object({ uid, name })).optional(),
    /** To `proto=2`: what this server accepts, so that a client never disagrees with it. */
    limits: z
      .object({
        maxMessageLength: z.number().int().positive(),
        maxMessageBytes: z.number().int().positive(),
        maxNameLength: z.number().int().positive(),
        maxRoomLength: z.number().int().positive(),
        /** The room a request without `room` means, and where a new user starts. */
        lobby: room,
      })
      .optional(),
  }),
  user_join: z.object({ action: z.literal("user_join"), ...person, room }),
  user_left: z.object({ action: z.literal("user_left"), ...person, room }),
  /** To `proto=2`: who arrived and left in one step, and how many are there now. */
  presence: z.object({
    action: z.literal("presence"),
    room,
    joined: z.array(personSchema),
    left: z.array(personSchema),
    count: z.number().int().nonnegative(),
    /** Set when the other servers could not be asked: `count` is this server's users only. */
    partial: z.literal(true).optional(),
  }),
  user_renamed: z.object({
    action: z.literal("user_renamed"),
    ...person,
    previous: name,
    // Absent when the renamer is in no room: then only the renamer is told.
    room: room.optional(),
  }),
  message: z.union([storedMessage, localMessage]),
  dm: z.union([storedDm, localDm]),
  edit: storedEdit,
  delete: storedDelete,
  react: storedReact,
  pm: z.object({ action: z.literal("pm"), target: pmTarget, message: z.string(), id, name, ts: z.number() }),
  pm_sent: z.object({
    action: z.literal("pm_sent"),
    target: pmTarget,
    message: z.string(),
    id,
    name,
    ts: z.number(),
    ref,
  }),
  history: z.object({
    action: z.literal("history"),
    ...roomOrWith,
    epoch: z.string(),
    messages: z.array(storedEntry),
    more: z.boolean(),
    recovered: z.boolean().optional(),
    /** The newest mid the room or conversation has (0 for none). */
    top: z.number().int().nonnegative(),
    /** The newest mid this user has read there, in this epoch (0 for none). */
    read: z.number().int().nonnegative(),
    /** In the reply to `history {around}`: the mid it was asked around, which `messages` hold. */
    around: z.number().int().positive().optional(),
    /** In the reply to `history {around}`: newer messages than the page's follow (page on with `join`'s live feed or another `around`). */
    newer: z.boolean().optional(),
    /** In the reply to `join {with}`: the other person's name now, which a conversation without a message yet shows nowhere else. */
    name: name.optional(),
    ref,
  }),
  search: z.object({
    action: z.literal("search"),
    q: z.string(),
    ...roomOrWith,
    /** Newest first. */
    hits: z.array(searchHit),
    /** Set when older hits follow: send the same search with `before` set to it. */
    next: z.string().optional(),
    ref,
  }),
  users: z.object({
    action: z.literal("users"),
    room,
    users: z.array(personSchema),
    /** Everyone in the room, on every node; a big room's `users` is one page of them. */
    count: z.number().int().nonnegative(),
    /** Set when more pages follow: send `users` with `after` set to it. */
    next: z.string().optional(),
    /** Set when the other servers could not be asked: `users` and `count` are this server's users only. */
    partial: z.literal(true).optional(),
    ref,
  }),
  typing: z.union([
    z.object({ action: z.literal("typing"), room, ...person }),
    z.object({ action: z.literal("typing"), to: uid, ...person }),
  ]),
  left: z.object({
    action: z.literal("left"),
    room,
    ref,
    /** Set when a moderator took the user out: `kicked` may join again, `banned` may not until the ban ends. */
    reason: z.enum(["kicked", "banned"]).optional(),
  }),
  /** To `proto=2` members of a room, on joining it and whenever it changes: its slow mode and pinned message. */
  room_rules: z.object({
    action: z.literal("room_rules"),
    room,
    /** Seconds between two messages of one person; 0 for none. */
    slow: z.number().int().nonnegative(),
    pinned: storedMessage.optional(),
    /**
     * The rules' version: the server counts each change. Two nodes may announce two changes in
     * either order; a page keeps the rules of the highest `v` it was sent for the room.
     */
    v: z.number().int().nonnegative(),
  }),
  /** A page of a room's moderation log, newest first. */
  modlog: z.object({
    action: z.literal("modlog"),
    room,
    entries: z.array(modlogEntry),
    /** Set when older entries follow: send `modlog` with `before` set to it. */
    next: z.number().int().positive().optional(),
    ref,
  }),
  /** A page of a room's reports, newest first, each with its message in context. */
  reports: z.object({
    action: z.literal("reports"),
    room,
    reports: z.array(reportEntry),
    next: z.number().int().positive().optional(),
    ref,
  }),
  /** To `proto=2`: the users this user has blocked, on every change and on connecting. */
  blocked: z.object({ action: z.literal("blocked"), users: z.array(z.object({ uid, name })) }),
  /** To `proto=2`: this user joined a room on another connection. */
  joined: z.object({ action: z.literal("joined"), room }),
  /** To `proto=2`: a direct message came in a conversation this connection has not joined. */
  conversation: z.object({ action: z.literal("conversation"), with: z.object({ uid, name }) }),
  /** To `proto=2`: this user has read up to `mid` (in `epoch`), on some connection. */
  read: z.object({ action: z.literal("read"), ...roomOrWith, mid: z.number().int().nonnegative(), epoch: z.string() }),
  ack: z.object({
    action: z.literal("ack"),
    of: z.enum([
      "message",
      "dm",
      "nick",
      "auth",
      "read",
      "edit",
      "delete",
      "react",
      "invite",
      "role",
      ...MODERATION_ACTIONS,
      "report",
      "block",
      "unblock",
    ]),
    ref: z.union([z.string().max(64), z.number()]),
    ...roomOrWith,
    mid: mid.optional(),
  }),
  profile: profileFrame,
  /**
   * To `proto=2`: a room's properties, before a `join`'s history, as the reply
   * to `room_create`, `room_update` and `accept`, and to its members when they
   * change. `role` is the receiver's, absent where it holds none.
   */
  room: z.object({ action: z.literal("room"), ...roomFields, role: role.optional(), ref }),
  /** A page of the room directory, by name. */
  rooms: z.object({
    action: z.literal("rooms"),
    rooms: z.array(
      roomInfo.extend({
        /** People in it now, on every node. */
        online: z.number().int().nonnegative(),
        /** When its newest message was written (absent: none kept). */
        active: z.number().optional(),
      }),
    ),
    next: z.string().optional(),
    ref,
  }),
  /** A page of a room's members, by name. */
  members: z.object({
    action: z.literal("members"),
    room,
    members: z.array(z.object({ uid, name, role, online: z.boolean() })),
    next: z.string().optional(),
    ref,
  }),
  /** A new invitation link: `token` goes after `#/room-invite/` in the client's address. */
  invite_link: z.object({
    action: z.literal("invite_link"),
    room,
    token: z.string(),
    expires: z.number(),
    uses: z.number().int().positive(),
    ref,
  }),
  /** To `proto=2`: someone invited this user into a room, which a `join` now enters. */
  invited: z.object({ action: z.literal("invited"), room, name: z.string(), by: z.object({ uid, name }) }),
  /** A page of the people directory. */
  people: z.object({
    action: z.literal("people"),
    people: z.array(z.object({ uid, name })),
    next: z.string().optional(),
    ref,
  }),
  /** The answer to a `ping`: the link carries frames both ways. */
  pong: z.object({ action: z.literal("pong"), ref }),
  error: z.object({
    action: z.literal("error"),
    code: z.enum(ERROR_CODES),
    message: z.string(),
    ref,
    /** Seconds to wait before the same request would pass (a budget or a cap that time refills). */
    wait: z.number().int().positive().optional(),
  }),
} as const;

export type ServerAction = keyof typeof serverFrames;
export type FrameOf<A extends ServerAction> = z.output<(typeof serverFrames)[A]>;
export type ServerFrame = { [A in ServerAction]: FrameOf<A> }[ServerAction];
export type StoredMessage = z.output<typeof storedMessage>;
export type StoredDm = z.output<typeof storedDm>;
export type StoredEntry = z.output<typeof storedEntry>;
export type StoredChange = z.output<typeof storedEdit> | z.output<typeof storedDelete> | z.output<typeof storedReact>;
export type Person = z.output<typeof personSchema>;
export type ModlogEntry = z.output<typeof modlogEntry>;
export type ReportEntry = z.output<typeof reportEntry>;
export type RoomInfo = z.output<typeof roomInfo>;
export type SearchHit = z.output<typeof searchHit>;
