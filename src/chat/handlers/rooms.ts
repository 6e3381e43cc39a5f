import { BrokerUnavailable, type HistoryPage, type HistoryQuery } from "../../bus/broker.js";
import { RequestError } from "../../protocol/errors.js";
import { HISTORY_PAGE_MAX } from "../../protocol/requests.js";
import { checkRoom } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, memberRoom } from "./caller.js";

/**
 * `join`: enters the room (announced to the others), then sends its history
 * and who is there. Live messages that arrive while the history is read
 * follow it, with no gap and no duplicate. Joining a room one is in already
 * only sends the history and the list again.
 */
export const join: Handler<"join"> = async (caller, req) => {
  const { hub, limits, policy, historySize, pages } = caller.ctx;
  const room = checkRoom(req.room, limits);
  const fresh = !caller.rooms.has(room);
  if (fresh && caller.rooms.size >= policy.maxRooms) {
    throw new RequestError("too_many_rooms", `a connection may be in at most ${policy.maxRooms} rooms`);
  }
  let top = 0;
  try {
    if (fresh) await enterRoom(caller, room, true);
    else hub.hold(room, caller);
    const limit = req.since === undefined ? Math.min(historySize, HISTORY_PAGE_MAX) : historySize;
    const query: HistoryQuery = { since: req.since, epoch: req.epoch, limit };
    const page: HistoryPage | undefined = await hub.history(room, query).catch((err: unknown) => {
      if (err instanceof BrokerUnavailable) return undefined;
      throw err;
    });
    const list = await hub.members(room);
    if (!page) {
      caller.send(frames.users(room, list, req.ref));
      throw new RequestError("unavailable", "history is out of reach right now; live messages still arrive");
    }
    const more = req.since === undefined && !page.complete;
    const recovered = req.since === undefined ? undefined : page.complete;
    caller.sendHistory(
      frames.history({ room, epoch: page.epoch, recovered, more, ref: req.ref }, pages.messagesOf(room, query, page)),
    );
    caller.send(frames.users(room, list, req.ref));
    top = page.top;
  } finally {
    hub.release(room, caller, top);
  }
};

export const leave: Handler<"leave"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  await exitRoom(caller, room);
  caller.send(frames.left(room, req.ref));
};

/**
 * Makes the caller a member of a room and tells the others there. A
 * `holding` member is sent no live message until its history has been sent.
 */
export async function enterRoom(caller: Caller, room: string, holding: boolean): Promise<void> {
  caller.rooms.add(room);
  try {
    await caller.ctx.hub.enter(room, caller, holding);
  } catch (err) {
    // Refused before it became a member (too many rooms here, no subscription): it is not in the room.
    if (!caller.ctx.hub.isMember(room, caller)) caller.rooms.delete(room);
    throw err;
  }
}

export async function exitRoom(caller: Caller, room: string): Promise<void> {
  caller.rooms.delete(room);
  await caller.ctx.hub.exit(room, caller);
}
