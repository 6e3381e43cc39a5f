import { BrokerUnavailable, type HistoryPage, type HistoryQuery } from "../../bus/broker.js";
import type { UserPage } from "../../presence/presence.js";
import { RequestError } from "../../protocol/errors.js";
import { HISTORY_PAGE_MAX, type RequestOf } from "../../protocol/requests.js";
import { checkRoom, DEFAULT_ROOM } from "../../protocol/rules.js";
import type { AddedRoom } from "../../users/user-store.js";
import { conversationOf, conversationPlace } from "../conversations.js";
import * as frames from "../frames.js";
import { drawGuestName } from "../guests.js";
import { pageKey, roomRulesFrame, withoutBlocked } from "../moderation.js";
import { admit } from "../room-access.js";
import { type Caller, type Handler, memberRoom, requirePersistent } from "./caller.js";
import { findAddressee, keepUser } from "./keeping.js";

/** Users one `users` frame lists at most; a bigger room is paged. */
export const USERS_PAGE = 100;

/**
 * `join`: a room (`room`) or a conversation (`with`). It sends the history,
 * and for a room who is there; live messages that arrive while the history
 * is read follow it, with no gap and no duplicate. Joining what one is in
 * already only sends those again.
 */
export const join: Handler<"join"> = (caller, req) =>
  req.with !== undefined ? joinConversation(caller, req, req.with) : joinRoom(caller, req, req.room ?? "");

async function joinRoom(caller: Caller, req: RequestOf<"join">, raw: string): Promise<void> {
  const { hub, limits, policy } = caller.ctx;
  const room = checkRoom(raw, limits);
  // Before anything else, so that a room one may not read answers as one that does not exist, recovery and all.
  const access = await admit(caller, room);
  const fresh = !caller.rooms.has(room);
  if (fresh && caller.rooms.size >= policy.maxRooms) {
    throw new RequestError("too_many_rooms", `a connection may be in at most ${policy.maxRooms} rooms`);
  }
  if (fresh) {
    // Being in a room is kept (the user's rooms, the room's epoch): it costs like a message without text.
    caller.ctx.allowances.charge(caller, 0);
    if (room !== DEFAULT_ROOM) await keepUser(caller);
  }
  let top = 0;
  try {
    // Who is there comes with the entry where the room is small enough: a join reads it no more.
    let members: UserPage | undefined;
    if (fresh) members = await enterRoom(caller, room, true, USERS_PAGE);
    else hub.hold(room, caller);
    caller.ctx.rooms.hold(room, access.info, caller.uid, access.stored);
    if (fresh && access.info.creator === undefined) {
      void caller.ctx.rooms
        .touch(room)
        .catch((err: unknown) => caller.ctx.log.warn({ err, room }, "could not keep a room a join made"));
    }
    if (caller.proto === 2) caller.send(frames.room({ ...access.info, role: access.role, ref: req.ref }));
    if (caller.proto === 2) caller.send(await roomRulesFrame(caller, room));
    const page = await readHistory(caller, room, req);
    members ??= await hub.members(room, USERS_PAGE);
    const users = frames.users({ room, ...members, ref: req.ref });
    if (!page) {
      caller.send(users);
      throw new RequestError("unavailable", "history is out of reach right now; live messages still arrive");
    }
    await sendHistory(caller, page, { room, place: room, since: req.since, ref: req.ref });
    caller.send(users);
    top = page.top;
  } finally {
    hub.release(room, caller, top);
  }
  // The user's other connections follow it into the room.
  if (fresh && caller.persistent) await hub.toUser(caller.uid, frames.joined(room), { unlessIn: room, except: caller });
}

async function joinConversation(caller: Caller, req: RequestOf<"join">, other: string): Promise<void> {
  requirePersistent(caller);
  const { hub, policy } = caller.ctx;
  const addressee = other === caller.uid ? { name: caller.name } : await findAddressee(caller, other);
  if (addressee === undefined) throw new RequestError("no_such_user", "there is no such user");
  const conversation = conversationOf(caller.uid, other);
  const fresh = !caller.conversations.has(other);
  if (fresh && caller.conversations.size >= policy.maxConversations) {
    throw new RequestError(
      "too_many_rooms",
      `a connection may have at most ${policy.maxConversations} conversations open`,
    );
  }
  let top = 0;
  try {
    if (fresh) {
      caller.conversations.set(other, conversation);
      await hub.openConversation(conversation, caller, true).catch((err: unknown) => {
        caller.conversations.delete(other);
        throw err;
      });
    } else {
      hub.hold(conversation, caller);
    }
    const read = await readHistory(caller, conversation, req);
    const page = read && withoutBlocked(caller, other, read);
    if (!page) throw new RequestError("unavailable", "history is out of reach right now; live messages still arrive");
    const sent = { with: other, name: addressee.name, place: conversationPlace(other), since: req.since, ref: req.ref };
    await sendHistory(caller, page, sent);
    top = page.top;
  } finally {
    hub.release(conversation, caller, top);
  }
}

/**
 * What a join sends: everything after `since` up to RECOVERY_MAX messages (the
 * newest, past it), or the newest page; undefined while the other nodes are away.
 */
function readHistory(caller: Caller, room: string, req: RequestOf<"join">): Promise<HistoryPage | undefined> {
  const { hub, historySize } = caller.ctx;
  const limit = req.since === undefined ? Math.min(historySize, HISTORY_PAGE_MAX) : recoveryLimit(caller);
  const query: HistoryQuery = { since: req.since, epoch: req.epoch, limit };
  return hub.history(room, query).catch((err: unknown) => {
    if (err instanceof BrokerUnavailable) return undefined;
    throw err;
  });
}

/** Messages a recovery replays at most. */
const recoveryLimit = (caller: Caller) => Math.min(caller.ctx.historySize, caller.ctx.recoveryMax);

interface Sent {
  room?: string;
  with?: string;
  /** The other person's name, with `with`. */
  name?: string;
  /** Where the user's read mark for it is kept. */
  place: string;
  since: number | undefined;
  ref: RequestOf<"join">["ref"];
}

/**
 * Sends a join's history, with the user's read mark of the same epoch: a
 * recovery in frames of at most a page each, oldest first. The first says
 * whether anything is missing before it; each after it continues the one
 * before, so says `recovered: true`.
 */
export async function sendHistory(caller: Caller, page: HistoryPage, sent: Sent): Promise<void> {
  const { users, pages } = caller.ctx;
  // Without the store, the history still goes out: as if nothing had been read.
  const mark = caller.persistent ? await users.readMark(caller.uid, sent.place).catch(() => undefined) : undefined;
  const key = sent.room ?? pageKey(caller, conversationOf(caller.uid, sent.with ?? ""), sent.with ?? "");
  const count = page.messages.length;
  const query = { since: sent.since, limit: count };
  const recovery = sent.since !== undefined;
  // A recovery cut at RECOVERY_MAX leaves older messages stored, which scroll-back reaches.
  const more = !page.complete && (!recovery || count >= recoveryLimit(caller));
  for (let from = 0; from === 0 || from < count; from += HISTORY_PAGE_MAX) {
    caller.sendHistory(
      frames.history(
        {
          room: sent.room,
          with: sent.with,
          name: sent.name,
          epoch: page.epoch,
          recovered: recovery ? from > 0 || page.complete : undefined,
          more,
          top: page.top,
          read: mark?.epoch === page.epoch ? mark.mid : 0,
          ref: sent.ref,
        },
        pages.messagesOf(key, query, page, from, Math.min(count, from + HISTORY_PAGE_MAX)),
      ),
    );
  }
}

/** `leave`: the user leaves the room, on this connection and every other. */
export const leave: Handler<"leave"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  await exitRoom(caller, room, 0);
  caller.send(frames.left(room, req.ref));
  if (caller.persistent) {
    if (caller.kept) await bestEffort(caller, caller.ctx.users.removeRoom(caller.uid, room), "forget a room");
    await caller.ctx.hub.leftEverywhere(caller.uid, room, caller);
  }
};

/**
 * Makes the caller a member of a room (and its user, when kept, for good);
 * the others hear of it if the user is new there. A `holding` member is sent
 * no live message until its history has been sent. Resolves with who is in
 * the room when it holds at most `listUpTo` users (Hub.enter).
 */
export async function enterRoom(
  caller: Caller,
  room: string,
  holding: boolean,
  listUpTo = 0,
): Promise<UserPage | undefined> {
  const kept = caller.kept ? await keepRoom(caller, room) : "already";
  caller.rooms.add(room);
  for (let draws = 0; ; draws++) {
    try {
      return await caller.ctx.hub.enter(room, caller, holding, listUpTo);
    } catch (err) {
      // Refused before it became a member (too many rooms here, no subscription, its name taken): it is not in the room.
      if (caller.ctx.hub.isMember(room, caller)) throw err;
      if (!mayRedraw(caller, err, draws) || !(await redraw(caller, room))) {
        caller.rooms.delete(room);
        if (kept === "added") await bestEffort(caller, caller.ctx.users.removeRoom(caller.uid, room), "forget a room");
        throw err;
      }
    }
  }
}

/**
 * Keeps the user in the room so that it follows them, or refuses it
 * (`too_many_rooms`) past MAX_ROOMS_PER_USER; should the store be away, the
 * user is in the room all the same.
 */
async function keepRoom(caller: Caller, room: string): Promise<AddedRoom | undefined> {
  const most = caller.ctx.policy.maxRoomsPerUser;
  const kept = await caller.ctx.users.addRoom(caller.uid, room, most).catch((err: unknown) => {
    caller.ctx.log.warn({ err, uid: caller.uid }, "could not remember a room");
    return undefined;
  });
  if (kept === "refused") {
    throw new RequestError(
      "too_many_rooms",
      `you are in ${most} rooms, on all your connections together: leave one to join another`,
    );
  }
  return kept;
}

/** Names a guest who chose none may be drawn in a row, each taken in the room it enters or in one it is in. */
const REDRAWS = 5;

/** Whether a refusal for a name someone in the room has is better met with another drawn name: for a guest who chose none. */
function mayRedraw(caller: Caller, err: unknown, draws: number): boolean {
  const taken = err instanceof RequestError && err.code === "name_taken";
  return taken && caller.nameDrawn && draws < REDRAWS;
}

/**
 * Draws the caller another name, as a rename in the rooms it is already in
 * (a guest never chose its drawn name, so a clash where it enters is not its
 * to solve); in none, it is told alone. False when no draw was free in them
 * or the rename could not be made: the join is refused as it was.
 */
async function redraw(caller: Caller, entering: string): Promise<boolean> {
  const previous = caller.name;
  const rooms = [...caller.rooms].filter((room) => room !== entering);
  for (let draws = 0; draws < REDRAWS; draws++) {
    while (caller.name === previous) caller.name = drawGuestName();
    try {
      await caller.ctx.hub.renamed(caller, previous, rooms);
    } catch (err) {
      caller.name = previous;
      if (err instanceof RequestError && err.code === "name_taken") continue;
      caller.ctx.log.warn({ err, uid: caller.uid }, "could not draw a guest another name");
      return false;
    }
    if (caller.kept)
      await bestEffort(caller, caller.ctx.users.setName(caller.uid, caller.name), "keep the user's name");
    if (caller.greeted && rooms.length === 0) caller.send(frames.userRenamed(undefined, caller, previous));
    return true;
  }
  return false;
}

/** A write that only keeps state for later: its failure is logged, and the request goes on. */
export async function bestEffort(caller: Caller, write: Promise<unknown>, what: string): Promise<void> {
  await write.catch((err: unknown) => caller.ctx.log.warn({ err, uid: caller.uid }, `could not ${what}`));
}

/** Takes the caller out of a room; its user leaves after `graceMs` if this was their last connection there. */
export async function exitRoom(caller: Caller, room: string, graceMs: number): Promise<void> {
  caller.rooms.delete(room);
  await caller.ctx.hub.exit(room, caller, graceMs);
}
