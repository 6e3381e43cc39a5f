import type { UnnumberedMessage } from "../bus/broker.js";
import type { LeftReason } from "../bus/envelope.js";
import type { ErrorCode } from "../protocol/errors.js";
import type { FrameOf, Person, ServerFrame, StoredChange, StoredDm, StoredMessage } from "../protocol/frames.js";
import type { Ref } from "../protocol/requests.js";
import { OutFrame } from "../transport/out-frame.js";

/**
 * Every frame the server sends, built in one place from the types of
 * src/protocol/frames.ts: a field that is not in the protocol, or missing
 * from it, does not compile. A frame is serialised once and the same text
 * goes to every recipient.
 */
const encode = (frame: ServerFrame): string => JSON.stringify(frame);

type Fields<A extends ServerFrame["action"]> = Omit<Extract<ServerFrame, { action: A }>, "action">;

const person = (p: Person): Person => ({ id: p.id, uid: p.uid, name: p.name });

export const userInfo = (fields: Fields<"user_info">) => encode({ action: "user_info", ...fields });

export const userJoin = (room: string, p: Person) => encode({ action: "user_join", ...person(p), room });

export const userLeft = (room: string, p: Person) => encode({ action: "user_left", ...person(p), room });

/** Arrivals and departures of one step in a room, for `proto=2`; a big room's carry only the count. */
export const presence = (room: string, joined: Person[], left: Person[], count: number, partial?: true) =>
  encode({ action: "presence", room, joined: joined.map(person), left: left.map(person), count, partial });

export const userRenamed = (room: string | undefined, p: Person, previous: string) =>
  encode({ action: "user_renamed", ...person(p), previous, room });

export const typing = (room: string, p: Person) => encode({ action: "typing", room, ...person(p) });

export const typingTo = (to: string, p: Person) => encode({ action: "typing", to, ...person(p) });

export const users = (fields: Fields<"users">) => encode({ action: "users", ...fields });

export const left = (room: string, ref: Ref, reason?: LeftReason) => encode({ action: "left", room, ref, reason });

export const roomRules = (fields: Fields<"room_rules">) => encode({ action: "room_rules", ...fields });

export const modlog = (fields: Fields<"modlog">) => encode({ action: "modlog", ...fields });

export const reports = (fields: Fields<"reports">) => encode({ action: "reports", ...fields });

export const blocked = (users: { uid: string; name: string }[]) =>
  encode({ action: "blocked", users: users.map((u) => ({ uid: u.uid, name: u.name })) });

/** A search reply: an OutFrame so that it is charged to the connection's budget by its size, as history is. */
export const search = (fields: Fields<"search">) => new OutFrame(encode({ action: "search", ...fields }));

export const joined = (room: string) => encode({ action: "joined", room });

export const profile = (fields: Fields<"profile">) => encode({ action: "profile", ...fields });

export const pong = (ref: Ref) => encode({ action: "pong", ref });

export const conversation = (other: { uid: string; name: string }) =>
  encode({ action: "conversation", with: { uid: other.uid, name: other.name } });

export const read = (fields: Fields<"read">) => encode({ action: "read", ...fields });

export const ack = (fields: Fields<"ack">) => encode({ action: "ack", ...fields });

/** A room's properties, and the receiver's role in it when it holds one. */
export const room = (fields: Fields<"room">) =>
  encode({
    action: "room",
    room: fields.room,
    name: fields.name,
    topic: fields.topic,
    visibility: fields.visibility,
    creator: fields.creator,
    created: fields.created,
    v: fields.v,
    role: fields.role,
    ref: fields.ref,
  });

export const rooms = (fields: Fields<"rooms">) => encode({ action: "rooms", ...fields });

export const members = (fields: Fields<"members">) => encode({ action: "members", ...fields });

export const inviteLink = (fields: Fields<"invite_link">) => encode({ action: "invite_link", ...fields });

export const invited = (fields: Fields<"invited">) => encode({ action: "invited", ...fields });

export const people = (fields: Fields<"people">) => encode({ action: "people", ...fields });

export const error = (code: ErrorCode, message: string, ref: Ref, wait?: number) =>
  encode({ action: "error", code, message, ref, wait });

type MessageFields = Omit<StoredMessage, "action" | "mid">;
type DmFields = Omit<StoredDm, "action" | "mid">;

/** A room chat message, split around its mid, which only the broker assigns. */
export function chatMessage(fields: MessageFields): UnnumberedMessage {
  return { head: '{"action":"message","mid":', tail: `,${JSON.stringify(fields).slice(1)}` };
}

/** A message that only this node's members got, while the other nodes were out of reach: no mid, not stored. */
export const localMessage = (fields: MessageFields) => encode({ action: "message", ...fields, local: true });

/** A direct message, split around its mid like a room's. */
export function dm(fields: DmFields): UnnumberedMessage {
  return { head: '{"action":"dm","mid":', tail: `,${JSON.stringify(fields).slice(1)}` };
}

export const localDm = (fields: DmFields) => encode({ action: "dm", ...fields, local: true });

type ChangeFields = StoredChange extends infer C ? (C extends StoredChange ? Omit<C, "mid"> : never) : never;

/** An edit, a deletion or a reaction, split around its mid like a message: it is stored in the same history. */
export function change(fields: ChangeFields): UnnumberedMessage {
  const { action, ...rest } = fields;
  return { head: `{"action":"${action}","mid":`, tail: `,${JSON.stringify(rest).slice(1)}` };
}

export function pm(action: "pm" | "pm_sent", target: Person, message: string, from: Person, ts: number, ref: Ref) {
  const fields = {
    target: { id: target.id, name: target.name, user: target.name },
    message,
    id: from.id,
    name: from.name,
    ts,
  };
  return encode(action === "pm" ? { action, ...fields } : { action, ...fields, ref });
}

/** A page's stored messages, already JSON, as the array a `history` frame carries: shared by every requester. */
export const historyMessages = (messages: string[]) => new OutFrame(`[${messages.join(",")}]`);

/** The requester's own head, then the shared page: its JSON and its quoted form are made once. */
export function history(fields: Omit<FrameOf<"history">, "action" | "messages">, messages: OutFrame): OutFrame {
  const head = encode({
    action: "history",
    room: fields.room,
    with: fields.with,
    epoch: fields.epoch,
    recovered: fields.recovered,
    more: fields.more,
    top: fields.top,
    read: fields.read,
    around: fields.around,
    newer: fields.newer,
    name: fields.name,
    ref: fields.ref,
    messages: [],
  });
  return OutFrame.join([`${head.slice(0, -"[]}".length)}`, messages, "}"]);
}
