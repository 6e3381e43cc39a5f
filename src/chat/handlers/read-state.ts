import type { StoredAt } from "../../bus/broker.js";
import { conversationOf, conversationPlace } from "../conversations.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, memberRoom, openConversation, requirePersistent } from "./caller.js";
import { bestEffort } from "./rooms.js";

/** `read`: how far the user has read a room or a conversation; their other connections are told. */
export const read: Handler<"read"> = async (caller, req) => {
  requirePersistent(caller);
  const { hub, users } = caller.ctx;
  // Read marks are kept for what the connection is in: a room it joined, a conversation it opened.
  if (req.with !== undefined) openConversation(caller, req.with);
  const where = { room: req.with === undefined ? memberRoom(caller, req.room) : undefined, with: req.with };
  const place = where.room ?? conversationPlace(req.with ?? "");
  // A tab still showing a history that has since started over, or naming a mid past the newest,
  // would move every other tab's mark backwards or past what is there: the mark is kept to the
  // history as it is now.
  const head = await hub.history(where.room ?? conversationOf(caller.uid, req.with ?? ""), { limit: 1 });
  const mark = { epoch: req.epoch, mid: Math.min(req.mid, head.top) };
  // A guest not kept yet keeps no marks either.
  if (head.epoch === req.epoch && caller.kept && (await users.markRead(caller.uid, place, mark))) {
    await hub.toUser(caller.uid, frames.read({ room: where.room, with: where.with, ...mark }), { except: caller });
  }
  if (req.ref !== undefined) caller.send(frames.ack({ of: "read", ref: req.ref, room: where.room, with: where.with }));
};

/**
 * The user wrote message `at` in `place`: they have read up to it, so that
 * after a reload their own messages do not count as unread. Their other tabs
 * see the message come with their own uid, and count it read themselves.
 */
export async function readOwn(caller: Caller, place: string, at: StoredAt): Promise<void> {
  if (!caller.persistent) return;
  await bestEffort(
    caller,
    caller.ctx.users.markRead(caller.uid, place, at),
    "move the read mark past one's own message",
  );
}
