import { randomBytes } from "node:crypto";
import { RequestError } from "../../protocol/errors.js";
import type { FrameOf, RoomInfo } from "../../protocol/frames.js";
import { PRIVATE_TAIL_LENGTH, slugOf } from "../../protocol/rooms.js";
import { checkRoom, checkRoomName, checkTopic, DEFAULT_ROOM } from "../../protocol/rules.js";
import type { RoomRecord } from "../../rooms/room-store.js";
import * as frames from "../frames.js";
import { bannedFrom, requireRole } from "../room-access.js";
import { infoOf } from "../room-rules.js";
import { type Caller, type Handler, requirePersistent } from "./caller.js";

/** Rooms one `rooms` page lists at most. */
export const DIRECTORY_PAGE = 20;

/** `rooms`: a page of the directory, with how many are in each now and when it last spoke. */
export const rooms: Handler<"rooms"> = async (caller, req) => {
  const { store } = caller.ctx.rooms;
  const q = req.q?.trim() || undefined;
  const page = await store.directory(q, req.after, DIRECTORY_PAGE).catch((err: unknown) => {
    caller.ctx.log.warn({ err }, "could not read the room directory");
    throw new RequestError("unavailable", "the room directory is out of reach right now");
  });
  const offered = await Promise.all(page.items.map(async (r) => ((await shutOut(caller, r.id)) ? [] : [r])));
  const listed = await Promise.all(offered.flat().map((r) => listing(caller, r)));
  caller.send(frames.rooms({ rooms: listed, next: page.next, ref: req.ref }));
};

/**
 * A room the caller is banned from is not offered: a join would answer as
 * for a room nobody holds. Bans that cannot be read leave the room listed,
 * since the join decides (and shuts the way then).
 */
function shutOut(caller: Caller, room: string): Promise<boolean> {
  return bannedFrom(caller, room).catch(() => false);
}

async function listing(caller: Caller, r: RoomRecord): Promise<FrameOf<"rooms">["rooms"][number]> {
  const { hub } = caller.ctx;
  const [online, newest] = await Promise.all([
    hub.members(r.id, 0).then(
      (page) => page.count,
      () => 0,
    ),
    hub.history(r.id, { limit: 1 }).then(
      (page) => page.messages.at(-1)?.json,
      () => undefined,
    ),
  ]);
  const active = newest === undefined ? undefined : (JSON.parse(newest) as { ts?: number }).ts;
  return { ...infoOf(r), online, active };
}

/** Ids a name's slug is tried with before a random tail settles it. */
const SLUG_TRIES = 10;

/** Whether an id is in use though no store holds it: a room a `join` made, with history or people in it. */
async function inUse(caller: Caller, id: string): Promise<boolean> {
  const { hub } = caller.ctx;
  const [top, count] = await Promise.all([
    hub.history(id, { limit: 1 }).then(
      (p) => p.top,
      () => 0,
    ),
    hub.members(id, 0).then(
      (p) => p.count,
      () => 0,
    ),
  ]);
  return top > 0 || count > 0;
}

const tail = (length: number) =>
  [...randomBytes(length)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");

/** The `attempt`th id tried for a room named `slug`. */
function candidateId(slug: string, isPrivate: boolean, attempt: number, maxLength: number): string {
  if (isPrivate) return `${slug}~${tail(PRIVATE_TAIL_LENGTH)}`;
  if (attempt === 0) return slug;
  if (attempt < SLUG_TRIES) return `${slug.slice(0, maxLength - 3)}-${attempt + 1}`;
  return `${slug.slice(0, maxLength - 7)}-${tail(6)}`;
}

/**
 * `room_create`: a room owned by the caller. A public or read-only room's id
 * is its name's slug, made unique ("design-team", "design-team-2"); a
 * private room's is the slug and a random tail ("design-team~k2…"), which
 * no `join` can make, so that it cannot be told from an id nobody has.
 */
export const roomCreate: Handler<"room_create"> = async (caller, req) => {
  requirePersistent(caller);
  const { rooms: rules, roomPolicy, limits } = caller.ctx;
  const name = checkRoomName(req.name, roomPolicy);
  const topic = checkTopic(req.topic ?? "", roomPolicy);
  const visibility = req.visibility ?? "public";
  if ((await rules.store.createdBy(caller.uid)) >= roomPolicy.maxCreated) {
    throw new RequestError("too_many_created", `you may create at most ${roomPolicy.maxCreated} rooms`);
  }
  const slug = slugOf(name, limits.maxRoomLength);
  const owner = { uid: caller.uid, name: caller.name };
  // The slug, then numbered ones, then random tails: a few tries at most, each a read and an insert.
  for (let attempt = 0; attempt < SLUG_TRIES * 2; attempt++) {
    const id = candidateId(slug, visibility === "private", attempt, limits.maxRoomLength);
    if (id === DEFAULT_ROOM || (visibility !== "private" && (await inUse(caller, id)))) continue;
    const record: RoomRecord = { id, name, topic, visibility, creator: caller.uid, created: Date.now(), version: 0 };
    if (await rules.store.create(record, owner)) {
      caller.send(frames.room({ ...infoOf(record), role: "owner", ref: req.ref }));
      return;
    }
  }
  throw new RequestError("unavailable", "no free id for that name right now: try another");
};

/**
 * `room_update`: the owner renames the room or changes its visibility; a
 * moderator may change the topic. Every member, on every node, is sent the
 * room as it is now.
 */
export const roomUpdate: Handler<"room_update"> = async (caller, req) => {
  const { rooms: rules, roomPolicy, limits } = caller.ctx;
  const room = checkRoom(req.room, limits);
  const owns = req.name !== undefined || req.visibility !== undefined;
  const access = await requireRole(caller, room, owns ? "owner" : "moderator");
  if (req.visibility !== undefined && (access.info.visibility === "private" || room === DEFAULT_ROOM)) {
    throw new RequestError("forbidden", "a private room stays private, and the lobby stays public");
  }
  const change = {
    name: req.name === undefined ? undefined : checkRoomName(req.name, roomPolicy),
    topic: req.topic === undefined ? undefined : checkTopic(req.topic, roomPolicy),
    visibility: req.visibility,
  };
  const before = await rules.store.get(room);
  // A room a `join` made is kept from its first change on, held by the admins as before.
  if (!before) await rules.store.create(recordOf(access.info), undefined);
  const after = await rules.store.update(room, change);
  if (!after) throw new RequestError("no_such_room", "there is no such room");
  // As the store has it after this change: another made at once on another node is in it, or counted after it.
  const now = infoOf(after);
  await caller.ctx.hub.announceRules(room, frames.room({ ...now, ref: undefined }));
  caller.send(frames.room({ ...now, role: access.role, ref: req.ref }));
};

const recordOf = (info: RoomInfo): RoomRecord => ({
  id: info.room,
  name: info.name,
  topic: info.topic,
  visibility: info.visibility,
  creator: info.creator,
  created: info.created || Date.now(),
  version: info.v,
});
