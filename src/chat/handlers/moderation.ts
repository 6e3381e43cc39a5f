import type { LeftReason } from "../../bus/envelope.js";
import { RequestError } from "../../protocol/errors.js";
import type { ModlogEntry, ReportEntry, StoredEntry } from "../../protocol/frames.js";
import type { RequestOf } from "../../protocol/requests.js";
import { checkRoom } from "../../protocol/rules.js";
import type { Sanction, SanctionKind } from "../../rooms/moderation-store.js";
import * as frames from "../frames.js";
import { rulesFrame } from "../moderation.js";
import { requireRole, roleIn } from "../room-access.js";
import { type Caller, type Handler, memberRoom, requirePersistent } from "./caller.js";
import { removeAsModerator, storedMessage } from "./changes.js";
import { findAddressee } from "./keeping.js";
import { bestEffort } from "./rooms.js";

/** Entries one page of a moderation log or of reports holds. */
export const MODERATION_PAGE = 50;
/** Messages either side of a reported one that a moderator is shown with it. */
const CONTEXT = 2;

/** The room a moderation request names, once the caller is found to be its moderator or more. */
async function moderated(caller: Caller, raw: string): Promise<string> {
  const room = checkRoom(raw, caller.ctx.limits);
  await requireRole(caller, room, "moderator");
  return room;
}

/** Whether the room is private: one taken out of it is no longer a member, and needs a new invitation. */
async function isPrivate(caller: Caller, room: string): Promise<boolean> {
  return (await caller.ctx.rooms.info(room))?.visibility === "private";
}

/** Someone a moderator acts on, who must rank below them: a moderator cannot take out another, nor the owner. */
async function subject(caller: Caller, room: string, uid: string): Promise<{ uid: string; name: string }> {
  if (uid === caller.uid) throw new RequestError("bad_request", "a moderator cannot act on themselves");
  const [mine, theirs, found] = await Promise.all([
    roleIn(caller, room),
    caller.ctx.rooms.storedRole(room, uid),
    findAddressee(caller, uid),
  ]);
  const above =
    caller.admin || theirs === undefined || theirs === "member" || (mine === "owner" && theirs === "moderator");
  if (!above) throw new RequestError("forbidden", `only someone above the room's ${theirs} may do that`);
  // A uid nobody holds would only fill the log and the sanctions with names of no one.
  if (found === undefined) throw new RequestError("no_such_user", "there is no such user");
  return { uid, name: found.name };
}

/**
 * What a moderator does is written down (the log, a sanction): it is charged
 * to their write budget as a message of its reason is, before it is done.
 */
function chargeEntry(caller: Caller, reason?: string): void {
  caller.ctx.allowances.charge(caller, Buffer.byteLength(reason ?? ""));
}

/** Writes what a moderator did into the room's log; the action itself is done, so a failure here is only logged. */
async function record(caller: Caller, room: string, entry: Omit<ModlogEntry, "id" | "ts" | "by">): Promise<void> {
  const by = { uid: caller.uid, name: caller.name };
  const write = caller.ctx.moderation.store.append(room, "modlog", (id) =>
    JSON.stringify({ id, ts: Date.now(), by, ...entry } satisfies ModlogEntry),
  );
  await bestEffort(caller, write, "write the moderation log");
}

/** Every node with members in the room reads its moderation again; `proto=2` members see its rules. */
async function announce(caller: Caller, room: string): Promise<void> {
  const { moderation, hub } = caller.ctx;
  moderation.forget(room);
  await hub.announceRules(room, rulesFrame(room, await moderation.fresh(room)));
}

/**
 * The user's connections leave the room on every node; the room is no
 * longer one of the rooms kept for them, and a private room's membership
 * ends (every node reads the room's roles again).
 */
async function takeOut(caller: Caller, room: string, uid: string, reason: LeftReason): Promise<void> {
  if (await isPrivate(caller, room)) {
    await caller.ctx.rooms.store.removeMember(room, uid);
    await announce(caller, room);
  }
  await bestEffort(caller, caller.ctx.users.removeRoom(uid, room), "forget a room for someone taken out of it");
  await caller.ctx.hub.takeOut(uid, room, reason);
}

function ack(caller: Caller, of: Parameters<typeof frames.ack>[0]["of"], room: string, ref: RequestOf<"kick">["ref"]) {
  if (ref !== undefined) caller.send(frames.ack({ of, ref, room }));
}

/** `kick`: out of the room now, on every node; a public room may be joined again. */
export const kick: Handler<"kick"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  const user = await subject(caller, room, req.user);
  chargeEntry(caller, req.reason);
  await takeOut(caller, room, user.uid, "kicked");
  await record(caller, room, { action: "kick", user, reason: req.reason });
  ack(caller, "kick", room, req.ref);
};

async function sanction(
  caller: Caller,
  req: RequestOf<"ban"> | RequestOf<"mute">,
  kind: SanctionKind,
): Promise<{ room: string; user: { uid: string; name: string } }> {
  const room = await moderated(caller, req.room);
  const user = await subject(caller, room, req.user);
  chargeEntry(caller, req.reason);
  const s: Sanction = {
    uid: user.uid,
    kind,
    until: req.seconds === undefined ? undefined : Date.now() + req.seconds * 1000,
  };
  await caller.ctx.moderation.store.sanction(room, s);
  await announce(caller, room);
  return { room, user };
}

/** `ban`: out now, and no way back in (join, history, recovery, search) until it ends. */
export const ban: Handler<"ban"> = async (caller, req) => {
  const { room, user } = await sanction(caller, req, "ban");
  await takeOut(caller, room, user.uid, "banned");
  await record(caller, room, { action: "ban", user, seconds: req.seconds, reason: req.reason });
  ack(caller, "ban", room, req.ref);
};

/** `mute`: may still read; posting and reacting are refused (`muted`) until it ends. */
export const mute: Handler<"mute"> = async (caller, req) => {
  const { room, user } = await sanction(caller, req, "mute");
  await record(caller, room, { action: "mute", user, seconds: req.seconds, reason: req.reason });
  ack(caller, "mute", room, req.ref);
};

async function lift(caller: Caller, req: RequestOf<"unban"> | RequestOf<"unmute">, kind: SanctionKind) {
  const room = await moderated(caller, req.room);
  const user = await subject(caller, room, req.user);
  chargeEntry(caller);
  await caller.ctx.moderation.store.lift(room, user.uid, kind);
  await announce(caller, room);
  await record(caller, room, { action: req.action, user });
  ack(caller, req.action, room, req.ref);
}

export const unban: Handler<"unban"> = (caller, req) => lift(caller, req, "ban");
export const unmute: Handler<"unmute"> = (caller, req) => lift(caller, req, "mute");

/** `remove`: a moderator deletes anyone's message; a pinned one is unpinned. */
export const remove: Handler<"remove"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  chargeEntry(caller, req.reason);
  await removeAsModerator(caller, req, room);
  await record(caller, room, { action: "remove", mid: req.mid, reason: req.reason });
};

/**
 * The room's header follows its pinned message once it changed: an edit's
 * text replaces the old one there (read back from history, where the newest
 * edit is the text), and a deleted message's text must not outlive it there:
 * it is unpinned. The change itself is done: a failure here is only logged.
 */
export async function pinFollows(
  caller: Caller,
  room: string,
  mid: number,
  change: "edited" | "deleted",
): Promise<void> {
  const follow = async () => {
    const m = await caller.ctx.moderation.fresh(room);
    const pinned = m.pinned === undefined ? undefined : (JSON.parse(m.pinned) as { mid: number; message?: string });
    if (pinned?.mid !== mid) return;
    const found = change === "edited" ? await storedMessage(caller, room, mid) : undefined;
    // A pin that raced a deletion finds the message deleted: it goes, as the deletion's own follow-up would have done.
    const now = found?.deleted ? undefined : found;
    if (now !== undefined && now.message === pinned.message) return;
    await caller.ctx.moderation.store.setPinned(
      room,
      now === undefined ? undefined : JSON.stringify({ ...pinned, message: now.message }),
    );
    await announce(caller, room);
  };
  await bestEffort(caller, follow(), "bring a room's pinned message in line with it");
}

/** `slow`: one message per `seconds` per person, on every node; 0 ends it. */
export const slow: Handler<"slow"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  chargeEntry(caller);
  await caller.ctx.moderation.store.setSlow(room, req.seconds);
  await announce(caller, room);
  await record(caller, room, { action: "slow", seconds: req.seconds });
  ack(caller, "slow", room, req.ref);
};

/** `pin`: the message as it reads now goes in the room's header; without `mid`, the pin goes. */
export const pin: Handler<"pin"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  chargeEntry(caller);
  let pinned: string | undefined;
  if (req.mid !== undefined) {
    const found = await storedMessage(caller, room, req.mid);
    if (found.action !== "message") throw new RequestError("no_such_message", "only a room's message can be pinned");
    if (found.deleted) throw new RequestError("no_such_message", `message ${req.mid} was deleted`);
    pinned = JSON.stringify({ ...(JSON.parse(found.json) as object), message: found.message });
  }
  await caller.ctx.moderation.store.setPinned(room, pinned);
  // An edit stored after the message was read here found no pin to follow: the header reads the message again.
  if (req.mid !== undefined) await pinFollows(caller, room, req.mid, "edited");
  await announce(caller, room);
  await record(caller, room, { action: "pin", mid: req.mid });
  ack(caller, "pin", room, req.ref);
};

/** `modlog`: a page of what the room's moderators did, newest first. */
export const modlog: Handler<"modlog"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  const page = await caller.ctx.moderation.store.page(room, "modlog", req.before, MODERATION_PAGE + 1);
  const entries = page.slice(0, MODERATION_PAGE);
  const next = page.length > MODERATION_PAGE ? entries.at(-1)?.id : undefined;
  caller.send(
    frames.modlog({ room, entries: entries.map((e) => JSON.parse(e.json) as ModlogEntry), next, ref: req.ref }),
  );
};

/** `report`: anyone in the room tells its moderators about a message; REPORTS_PER_HOUR each. */
export const report: Handler<"report"> = async (caller, req) => {
  const room = memberRoom(caller, req.room);
  const { moderation } = caller.ctx;
  await storedMessage(caller, room, req.mid);
  const wait = await moderation.store.countReport(caller.uid, moderation.reportsPerHour);
  if (wait > 0) {
    throw new RequestError(
      "too_many_reports",
      `you have reported as many messages as an hour allows: wait ${wait} s`,
      wait,
    );
  }
  const by = { uid: caller.uid, name: caller.name };
  await moderation.store.append(room, "reports", (id) =>
    JSON.stringify({ id, ts: Date.now(), by, mid: req.mid, reason: req.reason }),
  );
  ack(caller, "report", room, req.ref);
};

/** `reports`: a page of the room's reports, newest first, each with the messages around it as they are now. */
export const reports: Handler<"reports"> = async (caller, req) => {
  const room = await moderated(caller, req.room);
  const page = await caller.ctx.moderation.store.page(room, "reports", req.before, MODERATION_PAGE + 1);
  const kept = page.slice(0, MODERATION_PAGE);
  const next = page.length > MODERATION_PAGE ? kept.at(-1)?.id : undefined;
  const entries = await Promise.all(
    kept.map(async (e): Promise<ReportEntry> => {
      const r = JSON.parse(e.json) as Omit<ReportEntry, "context">;
      const around = await caller.ctx.hub.history(room, { before: r.mid + CONTEXT + 1, limit: 2 * CONTEXT + 1 });
      return { ...r, context: around.messages.map((m) => JSON.parse(m.json) as StoredEntry) };
    }),
  );
  caller.send(frames.reports({ room, reports: entries, next, ref: req.ref }));
};

/** `block`: the user's direct messages, conversation hints and mentions stop reaching the caller, on every node. */
export const block: Handler<"block"> = async (caller, req) => {
  requirePersistent(caller);
  if (req.user === caller.uid) throw new RequestError("bad_request", "you cannot block yourself");
  const found = await findAddressee(caller, req.user);
  if (found === undefined) throw new RequestError("no_such_user", "there is no such user");
  const { store } = caller.ctx.moderation;
  await store.block(caller.uid, { uid: req.user, name: found.name });
  await blocksChanged(caller);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "block", ref: req.ref }));
};

export const unblock: Handler<"unblock"> = async (caller, req) => {
  requirePersistent(caller);
  await caller.ctx.moderation.store.unblock(caller.uid, req.user);
  await blocksChanged(caller);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "unblock", ref: req.ref }));
};

async function blocksChanged(caller: Caller): Promise<void> {
  const users = await caller.ctx.moderation.store.blocksOf(caller.uid);
  await caller.ctx.hub.blocksChanged(caller.uid, users);
}
