import { RequestError } from "../protocol/errors.js";
import type { RoomInfo } from "../protocol/frames.js";
import { atLeast, type Role } from "../protocol/rooms.js";
import type { Caller } from "./handlers/caller.js";
import { isBanned } from "./moderation.js";

/**
 * Who may do what in a room: the one place that decides it. Every way into
 * a room's messages (join, a recovery, history, typing, users, changes)
 * passes `admit` or `memberRoom` after it; moderation adds its bans here.
 */

/** What the caller is to a room it may read. */
export interface Access {
  info: RoomInfo;
  /** Its role, from the store, a token's claim or being a server admin; undefined for a reader who holds none. */
  role: Role | undefined;
  /** What the store alone says, for this node's copy (RoomRules.hold). */
  stored: Role | undefined;
}

/** One answer for a room that does not exist and one the caller may not know of: a name cannot be probed. */
export function noSuchRoom(room: string): RequestError {
  return new RequestError("no_such_room", `there is no room '${room}'`);
}

/** A server admin holds every room as its owner would; a token's claim adds to what the store says. */
function effectiveRole(caller: Caller, room: string, stored: Role | undefined): Role | undefined {
  if (caller.admin) return "owner";
  const claimed = caller.roomRoles?.get(room);
  if (claimed === undefined) return stored;
  if (stored === undefined) return claimed;
  return atLeast(claimed, stored) ? claimed : stored;
}

/**
 * The caller's role in a room, as known now (the store's answer, cached on
 * this node). Where the store cannot be asked, a role not cached is none:
 * a public room is still read, a private one is not entered.
 */
export async function roleIn(caller: Caller, room: string): Promise<Role | undefined> {
  return effectiveRole(caller, room, await storedRoleOf(caller, room));
}

async function storedRoleOf(caller: Caller, room: string): Promise<Role | undefined> {
  return caller.persistent
    ? await caller.ctx.rooms.storedRole(room, caller.uid).catch((err: unknown) => {
        caller.ctx.log.warn({ err, room }, "could not read a role: taken as none");
        return caller.ctx.rooms.cachedRole(room, caller.uid);
      })
    : undefined;
}

/** The caller's role from this node's cache alone, for the paths that must never wait on the store (posting). */
export function cachedRoleIn(caller: Caller, room: string): Role | undefined {
  return effectiveRole(caller, room, caller.ctx.rooms.cachedRole(room, caller.uid));
}

/**
 * Whether the caller may read the room, and what it is to it; `no_such_room`
 * otherwise, exactly as for an id nobody holds. A private room lets in its
 * members, and takes an invitation for the caller's user (which makes it a
 * member). Rejects with `unavailable` when the store is away and the room is
 * not known here.
 */
export async function admit(caller: Caller, room: string): Promise<Access> {
  const info = await caller.ctx.rooms.info(room).catch((err: unknown) => {
    const known = caller.ctx.rooms.cachedInfo(room);
    if (known) return known;
    caller.ctx.log.warn({ err, room }, "could not read a room's rules");
    throw new RequestError("unavailable", "the rooms' rules are out of reach right now: try again");
  });
  if (!info) throw noSuchRoom(room);
  const stored = await storedRoleOf(caller, room);
  const role = effectiveRole(caller, room, stored);
  if (!atLeast(role, "moderator") && isBanned(await bansOf(caller, room), caller.uid)) throw noSuchRoom(room);
  if (info.visibility !== "private" || role !== undefined) return { info, role, stored };
  if (caller.persistent && (await caller.ctx.rooms.store.takeInvitation(room, caller.uid, Date.now()))) {
    await caller.ctx.rooms.store.setMember(room, { uid: caller.uid, name: caller.name, role: "member" });
    return { info, role: effectiveRole(caller, room, "member"), stored: "member" };
  }
  throw noSuchRoom(room);
}

/**
 * Whether the room's bans shut the caller out now: `admit` then answers as
 * for a room nobody holds, the directory does not offer the room, and an
 * invitation link is refused before it counts a use. A moderator or a
 * server admin is never shut out.
 */
export async function bannedFrom(caller: Caller, room: string): Promise<boolean> {
  if (atLeast(await roleIn(caller, room), "moderator")) return false;
  return isBanned(await bansOf(caller, room), caller.uid);
}

/**
 * A room's bans, read from the store, not this node's copy: a node that held
 * nobody in the room heard no word of a ban. Without the store, what is
 * cached here decides, and with nothing cached the way in is shut
 * (`unavailable`) rather than left open.
 */
async function bansOf(caller: Caller, room: string) {
  const { moderation, log } = caller.ctx;
  return moderation.fresh(room).catch((err: unknown) => {
    const known = moderation.lastKnown(room);
    if (known) return known;
    log.warn({ err, room }, "could not read a room's bans");
    throw new RequestError("unavailable", "the rooms' rules are out of reach right now: try again");
  });
}

/**
 * Refuses a post (`forbidden`) in a read-only room from anyone below a
 * moderator. Reads this node's cache only.
 */
export function requirePoster(caller: Caller, room: string): void {
  const info = caller.ctx.rooms.cachedInfo(room);
  if (info?.visibility !== "readonly") return;
  if (!atLeast(cachedRoleIn(caller, room), "moderator")) {
    throw new RequestError("forbidden", "only the room's moderators post here");
  }
}

/** Refuses (`forbidden`) a caller below `wanted` in a room it may read. */
export async function requireRole(caller: Caller, room: string, wanted: Role): Promise<Access> {
  const access = await admit(caller, room);
  if (!atLeast(access.role, wanted)) throw new RequestError("forbidden", `only the room's ${wanted}s may do that`);
  return access;
}
