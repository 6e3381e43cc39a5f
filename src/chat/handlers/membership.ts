import { createHash, randomBytes } from "node:crypto";
import { RequestError } from "../../protocol/errors.js";
import { checkRoom } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { admit, requireRole } from "../room-access.js";
import { type Caller, type Handler, requirePersistent } from "./caller.js";
import { findAddressee } from "./keeping.js";

/** Members one `members` page lists at most. */
export const MEMBERS_PAGE = 50;
/** People one `people` page lists at most. */
export const PEOPLE_PAGE = 50;
/** How long an invitation for a user waits to be taken by a `join`. */
const INVITATION_MS = 7 * 24 * 3600 * 1000;
/** An invitation link's life when its maker gives none. */
const LINK_HOURS = 7 * 24;

/** What a link's token is kept as: a copy of the store opens no room. */
export const tokenHash = (token: string) => createHash("sha256").update(token).digest("base64url");

async function requireRoomForInvitations(caller: Caller, room: string): Promise<void> {
  const { rooms: rules, roomPolicy } = caller.ctx;
  if ((await rules.store.outstanding(room, Date.now())) >= roomPolicy.maxInvitations) {
    throw new RequestError(
      "too_many_invitations",
      `a room may have at most ${roomPolicy.maxInvitations} invitations waiting: let some expire or be used`,
    );
  }
}

/** `invite`: a member invites a user; the invitee's connections are told, and their next `join` enters. */
export const invite: Handler<"invite"> = async (caller, req) => {
  requirePersistent(caller);
  const room = checkRoom(req.room, caller.ctx.limits);
  const access = await requireRole(caller, room, "member");
  const invitee = await findAddressee(caller, req.uid);
  if (invitee === undefined) throw new RequestError("no_such_user", "there is no such user");
  await requireRoomForInvitations(caller, room);
  await caller.ctx.rooms.store.invite(room, req.uid, Date.now() + INVITATION_MS);
  const note = frames.invited({ room, name: access.info.name, by: { uid: caller.uid, name: caller.name } });
  await caller.ctx.hub.toUser(req.uid, note);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "invite", ref: req.ref, room }));
};

/** `invite_link`: a member makes a link that lets `uses` people in within `hours`; only its hash is kept. */
export const inviteLink: Handler<"invite_link"> = async (caller, req) => {
  requirePersistent(caller);
  const room = checkRoom(req.room, caller.ctx.limits);
  await requireRole(caller, room, "member");
  await requireRoomForInvitations(caller, room);
  // 192 random bits: a link cannot be guessed, and one found in a log is good only for its uses and hours.
  const token = randomBytes(24).toString("base64url");
  const uses = req.uses ?? 1;
  const expires = Date.now() + (req.hours ?? LINK_HOURS) * 3600 * 1000;
  await caller.ctx.rooms.store.addLink(tokenHash(token), { room, by: caller.uid, usesLeft: uses, expires });
  caller.send(frames.inviteLink({ room, token, expires, uses, ref: req.ref }));
};

/** `accept`: redeems a link's token (one use, counted once however many redeem it at once); the caller becomes a member. */
export const accept: Handler<"accept"> = async (caller, req) => {
  requirePersistent(caller);
  const { store } = caller.ctx.rooms;
  const room = await store.redeemLink(tokenHash(req.token), Date.now());
  if (room === undefined) {
    throw new RequestError("bad_invitation", "this invitation link has expired, been used up, or never was");
  }
  const held = await store.member(room, caller.uid);
  if (!held) await store.setMember(room, { uid: caller.uid, name: caller.name, role: "member" });
  const access = await admit(caller, room);
  caller.send(frames.room({ ...access.info, role: access.role, ref: req.ref }));
};

/** `members`: a page of the room's members by name, each said to be online or not. */
export const members: Handler<"members"> = async (caller, req) => {
  const room = checkRoom(req.room, caller.ctx.limits);
  await admit(caller, room);
  const page = await caller.ctx.rooms.store.members(room, req.after, MEMBERS_PAGE);
  const listed = await Promise.all(
    page.items.map(async (m) => ({ ...m, online: (await caller.ctx.hub.connectedName(m.uid)) !== undefined })),
  );
  caller.send(frames.members({ room, members: listed, next: page.next, ref: req.ref }));
};

/**
 * `role`: the owner names a moderator, or takes it back. Every node reads
 * the room's roles again, and the user's connections are sent the room with
 * their new role, so that what they may do shows at once.
 */
export const role: Handler<"role"> = async (caller, req) => {
  const room = checkRoom(req.room, caller.ctx.limits);
  const access = await requireRole(caller, room, "owner");
  const { store } = caller.ctx.rooms;
  const target = await store.member(room, req.uid);
  if (!target) throw new RequestError("no_such_user", "that user is not a member of the room");
  if (target.role === "owner") throw new RequestError("forbidden", "an owner's role is not changed here");
  await store.setMember(room, { ...target, role: req.role });
  await caller.ctx.hub.announceRules(room, frames.room({ ...access.info, ref: undefined }));
  // What goes to every member carries no role: the named user's own connections, on every node, are told theirs.
  await caller.ctx.hub.toUser(req.uid, frames.room({ ...access.info, role: req.role, ref: undefined }));
  if (req.ref !== undefined) caller.send(frames.ack({ of: "role", ref: req.ref, room }));
};

/** `people`: a page of accounts by name, for starting a conversation with anyone. */
export const people: Handler<"people"> = async (caller, req) => {
  const find = caller.ctx.people;
  const page = find ? await find(req.q?.trim() ?? "", req.after, PEOPLE_PAGE) : { items: [] };
  caller.send(frames.people({ people: page.items, next: page.next, ref: req.ref }));
};
