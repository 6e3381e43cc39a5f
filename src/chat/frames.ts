import type { StoredFrame } from "../bus/broker.js";
import type { Member } from "../storage/presence.js";
import { OutFrame } from "../transport/out-frame.js";
import type { ErrorCode } from "./protocol.js";

/**
 * Every frame the server sends, built in one place. A frame is serialized once
 * and the same string goes to every recipient.
 */
type Ref = string | number | undefined;

const json = JSON.stringify;

export const userInfo = (m: Member, uid: string | undefined) =>
  json({ action: "user_info", id: m.id, name: m.name, uid });

export const userJoin = (room: string, m: Member) => json({ action: "user_join", id: m.id, name: m.name, room });

export const userLeft = (room: string, m: Member) => json({ action: "user_left", id: m.id, name: m.name, room });

export const userRenamed = (room: string | undefined, m: Member, previous: string) =>
  json({ action: "user_renamed", id: m.id, name: m.name, previous, room });

export const typing = (room: string, m: Member) => json({ action: "typing", room, id: m.id, name: m.name });

export const users = (room: string, list: Member[], ref: Ref) =>
  json({ action: "users", room, users: list.map((m) => ({ id: m.id, name: m.name })), ref });

export const left = (room: string, ref: Ref) => json({ action: "left", room, ref });

export const ack = (action: string, ref: Ref, extra: { room?: string; mid?: number } = {}) =>
  json({ action: "ack", ref, of: action, ...extra });

export const error = (code: ErrorCode, message: string, ref: Ref) => json({ action: "error", code, message, ref });

/** A room chat message, split around its mid, which only the broker assigns. */
export function chatMessage(room: string, message: string, from: Member, ts: number): StoredFrame {
  return {
    head: '{"action":"message","mid":',
    tail: `,${json({ room, message, id: from.id, name: from.name, ts }).slice(1)}`,
  };
}

/** A message that only this node's members got, while the other nodes were out of reach: no mid, not stored. */
export const localMessage = (room: string, message: string, from: Member, ts: number) =>
  json({ action: "message", room, message, id: from.id, name: from.name, ts, local: true });

export function pm(action: "pm" | "pm_sent", target: Member, message: string, from: Member, ts: number, ref: Ref) {
  // The original page reads the target's name as `user` in some places and `name` in others.
  return json({
    action,
    target: { id: target.id, name: target.name, user: target.name },
    message,
    id: from.id,
    name: from.name,
    ts,
    ref,
  });
}

export interface HistoryFrameInfo {
  room: string;
  epoch: string;
  recovered?: boolean;
  more: boolean;
  ref: Ref;
}

/** A page's stored messages, already JSON, as the array a `history` frame carries: shared by every requester. */
export const historyMessages = (frames: string[]) => new OutFrame(`[${frames.join(",")}]`);

/** The requester's own head, then the shared page: its JSON and its quoted form are made once. */
export function history(info: HistoryFrameInfo, messages: OutFrame): OutFrame {
  const head = json({
    action: "history",
    room: info.room,
    epoch: info.epoch,
    recovered: info.recovered,
    more: info.more,
    ref: info.ref,
  });
  return OutFrame.join([`${head.slice(0, -1)},"messages":`, messages, "}"]);
}
