import { RequestError } from "../../protocol/errors.js";
import { checkName, foldName } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, memberRoom, openConversation } from "./caller.js";
import { keepUser } from "./keeping.js";
import { bestEffort, USERS_PAGE } from "./rooms.js";

/** Members a `nick` compares its name with, per room. */
const NAME_CHECK_LIMIT = 1000;

/** `nick`: a guest's new name, on every connection, unless someone else in one of its rooms has it. */
export const nick: Handler<"nick"> = async (caller, req) => {
  if (caller.lease !== undefined) throw new RequestError("forbidden", "your name comes from your account or token");
  const name = checkName(req.name, caller.ctx.limits);
  if (await caller.ctx.accountName?.(name)) throw new RequestError("name_taken", "that name is an account's");
  const folded = foldName(name);
  const rooms = await roomsOfUser(caller);
  for (const room of rooms) {
    const { users } = await caller.ctx.hub.members(room, NAME_CHECK_LIMIT);
    if (users.some((m) => m.uid !== caller.uid && foldName(m.name) === folded)) {
      throw new RequestError("name_taken", `someone in '${room}' is already called that`);
    }
  }
  await keepUser(caller);
  await rename(caller, name, rooms);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "nick", ref: req.ref }));
};

/** Every room the user is in: this connection's, and for a kept user those only its other connections are in. */
async function roomsOfUser(caller: Caller): Promise<Set<string>> {
  const rooms = new Set(caller.rooms);
  if (caller.persistent) {
    // Without the store, the rooms this connection knows still hear of it.
    const record = await caller.ctx.users.load(caller.uid).catch(() => undefined);
    for (const room of record?.rooms ?? []) rooms.add(room);
  }
  return rooms;
}

/** Renames the caller's user in every room it is in; in none, it alone is told. */
export async function rename(caller: Caller, name: string, rooms?: Set<string>): Promise<void> {
  const previous = caller.name;
  caller.name = name;
  if (caller.kept) await bestEffort(caller, caller.ctx.users.setName(caller.uid, name), "keep the user's name");
  await caller.ctx.hub.renamed(caller, previous, rooms ?? (await roomsOfUser(caller)));
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
