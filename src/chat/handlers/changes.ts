import { type ChangeOf, MessageGone, type UnnumberedMessage } from "../../bus/broker.js";
import { idempotencyKey } from "../../bus/idempotency.js";
import { RequestError } from "../../protocol/errors.js";
import type { RequestOf } from "../../protocol/requests.js";
import { checkText, storedBytes } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { refuseMuted } from "../moderation.js";
import { requirePoster } from "../room-access.js";
import { type Caller, type Handler, memberRoom, openConversation, requirePersistent } from "./caller.js";
import { pinFollows } from "./moderation.js";

/** Where a change goes: the room it is stored in (a conversation's own, for one), and how its frames name it. */
interface Target {
  room: string;
  where: { room: string } | { to: string };
  reply: { room: string } | { with: string };
}

type ChangeRequest = RequestOf<"edit"> | RequestOf<"delete"> | RequestOf<"react">;

/**
 * Finds message `mid` where the request points, and checks that it is a
 * message (not itself a change) that history still keeps, written by the
 * caller when `own` is asked.
 */
async function target(caller: Caller, req: ChangeRequest, own: boolean): Promise<Target> {
  let t: Target;
  if (req.with !== undefined) {
    requirePersistent(caller);
    t = { room: openConversation(caller, req.with), where: { to: req.with }, reply: { with: req.with } };
  } else {
    const room = memberRoom(caller, req.room);
    requirePoster(caller, room);
    t = { room, where: { room }, reply: { room } };
  }
  const stored = await storedMessage(caller, t.room, req.mid);
  if (own && stored.uid !== caller.uid) throw new RequestError("not_yours", "only its author may change a message");
  return t;
}

/** A message (not a change) that the room's history still keeps, with its current text; else `no_such_message`. */
export async function storedMessage(
  caller: Caller,
  room: string,
  mid: number,
): Promise<{ action: string; uid?: string; message?: string; deleted: boolean; json: string }> {
  const page = await caller.ctx.hub.history(room, { before: mid + 1, limit: 1 });
  const entry = page.messages.find((m) => m.mid === mid);
  const stored = entry === undefined ? undefined : (JSON.parse(entry.json) as { action: string; uid?: string });
  if (entry === undefined || stored === undefined || (stored.action !== "message" && stored.action !== "dm")) {
    throw new RequestError("no_such_message", `there is no message ${mid} here (or it is no longer kept)`);
  }
  // The page carries the message's current changes after it: the newest edit is its text now.
  let text = (stored as { message?: string }).message;
  let deleted = false;
  for (const m of page.messages) {
    const change = JSON.parse(m.json) as { action: string; target?: number; message?: string };
    if (change.action === "edit" && change.target === mid) text = change.message;
    if (change.action === "delete" && change.target === mid) deleted = true;
  }
  return { ...stored, message: text, deleted, json: entry.json };
}

/** What every change carries: its message, who made it and when, and where it is. */
type ChangeBase = { target: number; id: string; uid: string; name: string; ts: number } & Target["where"];

/**
 * Stores the change after its message, so that joiners, scroll-back and
 * recovery all see it once; then `follow` (the room's pinned header), then the ack.
 */
async function publish(
  caller: Caller,
  req: ChangeRequest | RequestOf<"remove">,
  t: Target,
  build: (base: ChangeBase) => UnnumberedMessage,
  follow?: () => Promise<void>,
): Promise<void> {
  caller.ctx.allowances.charge(caller, req.action === "edit" ? storedBytes(req.message) : 0);
  // A moderator's removal is the same deletion as its author's: it replaces any deletion's place.
  const kind = req.action === "remove" ? "delete" : req.action;
  const base = { target: req.mid, id: caller.id, uid: caller.uid, name: caller.name, ts: Date.now(), ...t.where };
  const key = idempotencyKey(req.action, caller.uid, req.ref);
  // Each key has one current change per message: the newest edit, each (user, emoji)'s last word, the deletion.
  const of: ChangeOf = {
    kind,
    target: req.mid,
    key: req.action === "react" ? `react:${caller.uid}:${req.emoji}` : kind,
  };
  const mid = await caller.ctx.hub.publishChange(t.room, build(base), key, of).then(
    (at) => at.mid,
    (err: unknown) => {
      if (err instanceof MessageGone) {
        throw new RequestError("no_such_message", `message ${req.mid} was deleted (or is no longer kept)`);
      }
      throw err;
    },
  );
  // Before the ack: a deleted message's text was still in the header for whoever joined on the word of the ack.
  await follow?.();
  if (req.ref !== undefined) caller.send(frames.ack({ of: req.action, ref: req.ref, ...t.reply, mid }));
}

/**
 * A moderator's `remove`: the message is deleted as its author would, shown
 * as removed by a moderator, and unpinned if it was the room's pinned one.
 */
export async function removeAsModerator(caller: Caller, req: RequestOf<"remove">, room: string): Promise<void> {
  await storedMessage(caller, room, req.mid);
  const t: Target = { room, where: { room }, reply: { room } };
  await publish(
    caller,
    req,
    t,
    (base) => frames.change({ action: "delete", ...base, moderator: true }),
    () => pinFollows(caller, room, req.mid, "deleted"),
  );
}

/** `edit`: new text for one's own message. */
export const edit: Handler<"edit"> = async (caller, req) => {
  const message = checkText(req.message, caller.ctx.limits);
  const t = await target(caller, req, true);
  if (req.with === undefined) refuseMuted(await caller.ctx.moderation.rules(t.room), caller.uid);
  await publish(
    caller,
    req,
    t,
    (base) => frames.change({ action: "edit", ...base, message }),
    req.with === undefined ? () => pinFollows(caller, t.room, req.mid, "edited") : undefined,
  );
};

/** `delete`: one's own message is shown as deleted, to everyone, from now on. */
export const remove: Handler<"delete"> = async (caller, req) => {
  const t = await target(caller, req, true);
  await publish(
    caller,
    req,
    t,
    (base) => frames.change({ action: "delete", ...base }),
    req.with === undefined ? () => pinFollows(caller, t.room, req.mid, "deleted") : undefined,
  );
};

/** `react`: anyone in the room reacts to a message; each person counts once per emoji. A muted person may not. */
export const react: Handler<"react"> = async (caller, req) => {
  const t = await target(caller, req, false);
  if (req.with === undefined) refuseMuted(await caller.ctx.moderation.rules(t.room), caller.uid);
  const on = req.remove !== true;
  await publish(caller, req, t, (base) => frames.change({ action: "react", ...base, emoji: req.emoji, on }));
};
