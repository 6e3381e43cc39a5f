import type { UnnumberedMessage } from "../bus/broker.js";
import type { Member } from "../presence/presence.js";
import type { ErrorCode } from "../protocol/errors.js";
import type { FrameOf, ServerFrame, StoredMessage } from "../protocol/frames.js";
import type { Ref } from "../protocol/requests.js";
import { OutFrame } from "../transport/out-frame.js";

/**
 * Every frame the server sends, built in one place from the types of
 * src/protocol/frames.ts: a field that is not in the protocol, or missing
 * from it, does not compile. A frame is serialised once and the same text
 * goes to every recipient.
 */
const encode = (frame: ServerFrame): string => JSON.stringify(frame);

export const userInfo = (m: Member, uid: string | undefined) =>
  encode({ action: "user_info", id: m.id, name: m.name, uid });

export const userJoin = (room: string, m: Member) => encode({ action: "user_join", id: m.id, name: m.name, room });

export const userLeft = (room: string, m: Member) => encode({ action: "user_left", id: m.id, name: m.name, room });

export const userRenamed = (room: string | undefined, m: Member, previous: string) =>
  encode({ action: "user_renamed", id: m.id, name: m.name, previous, room });

export const typing = (room: string, m: Member) => encode({ action: "typing", room, id: m.id, name: m.name });

export const users = (room: string, list: Member[], ref: Ref) =>
  encode({ action: "users", room, users: list.map((m) => ({ id: m.id, name: m.name })), ref });

export const left = (room: string, ref: Ref) => encode({ action: "left", room, ref });

export const ack = (fields: Omit<FrameOf<"ack">, "action">) => encode({ action: "ack", ...fields });

export const error = (code: ErrorCode, message: string, ref: Ref) => encode({ action: "error", code, message, ref });

type MessageFields = Omit<StoredMessage, "action" | "mid">;

/** A room chat message, split around its mid, which only the broker assigns. */
export function chatMessage(fields: MessageFields): UnnumberedMessage {
  return { head: '{"action":"message","mid":', tail: `,${JSON.stringify(fields).slice(1)}` };
}

/** A message that only this node's members got, while the other nodes were out of reach: no mid, not stored. */
export const localMessage = (fields: MessageFields) => encode({ action: "message", ...fields, local: true });

export function pm(action: "pm" | "pm_sent", target: Member, message: string, from: Member, ts: number, ref: Ref) {
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
    epoch: fields.epoch,
    recovered: fields.recovered,
    more: fields.more,
    ref: fields.ref,
    messages: [],
  });
  return OutFrame.join([`${head.slice(0, -"[]}".length)}`, messages, "}"]);
}
