import { z } from "zod";
import { ERROR_CODES } from "./errors.js";
import { ref } from "./requests.js";

/**
 * What the server sends, one schema per action (docs/protocol.md#what-the-server-sends).
 * The server builds every frame from these types (src/chat/frames.ts), the
 * web client reads them with these types, and the tests check each frame
 * they receive against these schemas: a frame that drifts from its
 * definition is a compile error or a failing test.
 */

const id = z.string();
const name = z.string();
const room = z.string();
const person = { id, name };

/** A room message as it is stored and replayed: numbered. */
export const storedMessage = z.object({
  action: z.literal("message"),
  mid: z.number().int().positive(),
  room,
  message: z.string(),
  id,
  name,
  ts: z.number(),
});

/** A message that only the sender's node got while the other nodes were out of reach: no mid, not stored. */
export const localMessage = z.object({
  action: z.literal("message"),
  room,
  message: z.string(),
  id,
  name,
  ts: z.number(),
  local: z.literal(true),
});

/** The original page reads the target's name as `user` in some places and `name` in others. */
const pmTarget = z.object({ id, name, user: name });

export const serverFrames = {
  user_info: z.object({ action: z.literal("user_info"), ...person, uid: z.string().optional() }),
  user_join: z.object({ action: z.literal("user_join"), ...person, room }),
  user_left: z.object({ action: z.literal("user_left"), ...person, room }),
  user_renamed: z.object({
    action: z.literal("user_renamed"),
    ...person,
    previous: name,
    // Absent when the renamer is in no room: then only the renamer is told.
    room: room.optional(),
  }),
  message: z.union([storedMessage, localMessage]),
  pm: z.object({ action: z.literal("pm"), target: pmTarget, message: z.string(), ...person, ts: z.number() }),
  pm_sent: z.object({
    action: z.literal("pm_sent"),
    target: pmTarget,
    message: z.string(),
    ...person,
    ts: z.number(),
    ref,
  }),
  history: z.object({
    action: z.literal("history"),
    room,
    epoch: z.string(),
    messages: z.array(storedMessage),
    more: z.boolean(),
    recovered: z.boolean().optional(),
    ref,
  }),
  users: z.object({ action: z.literal("users"), room, users: z.array(z.object(person)), ref }),
  typing: z.object({ action: z.literal("typing"), room, ...person }),
  left: z.object({ action: z.literal("left"), room, ref }),
  ack: z.object({
    action: z.literal("ack"),
    of: z.enum(["message", "nick", "auth"]),
    ref: z.union([z.string().max(64), z.number()]),
    room: room.optional(),
    mid: z.number().int().positive().optional(),
  }),
  error: z.object({ action: z.literal("error"), code: z.enum(ERROR_CODES), message: z.string(), ref }),
} as const;

export type ServerAction = keyof typeof serverFrames;
export type FrameOf<A extends ServerAction> = z.output<(typeof serverFrames)[A]>;
export type ServerFrame = { [A in ServerAction]: FrameOf<A> }[ServerAction];
export type StoredMessage = z.output<typeof storedMessage>;
