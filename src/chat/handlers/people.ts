import { RequestError } from "../../protocol/errors.js";
import { checkName, foldName } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, memberRoom } from "./caller.js";

/** `nick`: a guest's new name, unless someone in one of its rooms already has it. */
export const nick: Handler<"nick"> = async (caller, req) => {
  if (caller.uid !== undefined) throw new RequestError("forbidden", "your name comes from your token");
  const name = checkName(req.name, caller.ctx.limits);
  const folded = foldName(name);
  for (const room of caller.rooms) {
    const members = await caller.ctx.hub.members(room);
    if (members.some((m) => m.id !== caller.id && foldName(m.name) === folded)) {
      throw new RequestError("name_taken", `someone in '${room}' is already called that`);
    }
  }
  await rename(caller, name);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "nick", ref: req.ref }));
};

/** Renames the caller in every room it is in; in none, it alone is told. */
export async function rename(caller: Caller, name: string): Promise<void> {
  const previous = caller.name;
  caller.name = name;
  await caller.ctx.hub.renamed(caller, previous, caller.rooms);
  if (caller.rooms.size === 0) caller.send(frames.userRenamed(undefined, caller, previous));
}

export const typing: Handler<"typing"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  await caller.ctx.hub.publish(room, frames.typing(room, caller), caller.id);
};

export const users: Handler<"users"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  caller.send(frames.users(room, await caller.ctx.hub.members(room), req.ref));
};
