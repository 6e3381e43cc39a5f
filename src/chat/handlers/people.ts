import { RequestError } from "../../protocol/errors.js";
import { checkName } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, memberRoom, openConversation } from "./caller.js";
import { keepUser } from "./keeping.js";
import { bestEffort, USERS_PAGE } from "./rooms.js";

/**
 * `nick`: a guest's new name, on every connection, unless someone else in
 * one of its rooms has it (the rooms decide, each in one step: see Presence.rename).
 */
export const nick: Handler<"nick"> = async (caller, req) => {
  if (caller.lease !== undefined) throw new RequestError("forbidden", "your name comes from your account or token");
  const name = checkName(req.name, caller.ctx.limits);
  if (await caller.ctx.accountName?.(name)) throw new RequestError("name_taken", "that name is an account's");
  await rename(caller, name);
  await keepUser(caller);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "nick", ref: req.ref }));
};

/** Every room the user is in: this connection's, and for a kept user those only its other connections are in. */
async function roomsOfUser(caller: Caller): Promise<Set<string>> {
  const rooms = new Set(caller.rooms);
  if (caller.persistent) {
    // Without the store, the rooms this connection knows still hear of it.
    const kept = await caller.ctx.users.roomsOf(caller.uid).catch(() => []);
    for (const room of kept) rooms.add(room);
  }
  return rooms;
}

/**
 * Renames the caller's user in every room it is in; in none, it alone is
 * told. Refused (`name_taken`) with nothing changed where someone else has the name.
 */
export async function rename(caller: Caller, name: string): Promise<void> {
  const previous = caller.name;
  const rooms = await roomsOfUser(caller);
  caller.name = name;
  try {
    await caller.ctx.hub.renamed(caller, previous, rooms);
  } catch (err) {
    caller.name = previous;
    throw err;
  }
  caller.nameDrawn = false;
  if (caller.kept) await bestEffort(caller, caller.ctx.users.setName(caller.uid, name), "keep the user's name");
  if (caller.rooms.size === 0) caller.send(frames.userRenamed(undefined, caller, previous));
}

export const typing: Handler<"typing"> = async (caller, req) => {
  const { hub } = caller.ctx;
  if (req.with !== undefined) {
    const conversation = openConversation(caller, req.with);
    await hub.publish(conversation, { json: frames.typingTo(req.with, caller), exclude: caller.id });
    return;
  }
  const room = memberRoom(caller, req.room);
  await hub.publish(room, { json: frames.typing(room, caller), exclude: caller.id });
};

/** `users`: who is in a room, a page at a time in a big one. */
export const users: Handler<"users"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  const page = await caller.ctx.hub.members(room, USERS_PAGE, req.after);
  caller.send(frames.users({ room, ...page, ref: req.ref }));
};
