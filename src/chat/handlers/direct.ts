import { idempotencyKey } from "../../bus/idempotency.js";
import { RequestError } from "../../protocol/errors.js";
import { checkText, storedBytes } from "../../protocol/rules.js";
import { conversationOf, conversationPlace } from "../conversations.js";
import * as frames from "../frames.js";
import { type Caller, type Handler, requirePersistent } from "./caller.js";
import { findAddressee, keepUser } from "./keeping.js";
import { readOwn } from "./read-state.js";
import { bestEffort } from "./rooms.js";

/** `pm` (the original protocol): a private message to one connection, on whatever node holds it. */
export const pm: Handler<"pm"> = async (caller, req) => {
  const text = checkText(req.message, caller.ctx.limits);
  await caller.ctx.hub.sendPm(caller, req.target.id, text, req.ref);
};

/**
 * `dm`: a direct message to a user, stored in the conversation of the two
 * (whether or not the other is online) and delivered to every connection of
 * both that has it open; those that have not are told it exists.
 */
export const dm: Handler<"dm"> = async (caller, req) => {
  requirePersistent(caller);
  const { hub, users, limits } = caller.ctx;
  const text = checkText(req.message, limits);
  const other = req.to;
  const [addressee, talked, blockedByThem] = await Promise.all([
    other === caller.uid ? { name: caller.name, kept: true } : findAddressee(caller, other),
    users.hasConversation(caller.uid, other),
    isBlockedBy(caller, other),
  ]);
  if (addressee === undefined) throw new RequestError("no_such_user", "there is no such user");
  const otherName = addressee.name;
  // Notes to oneself are written like any other message, and count the same.
  caller.ctx.allowances.charge(caller, storedBytes(text));
  if (!talked) await mayStartConversation(caller, other);
  await keepUser(caller);
  const conversation = conversationOf(caller.uid, other);
  const key = idempotencyKey(req.action, caller.uid, req.ref);
  const at = await hub.publishDm(conversation, caller, other, text, key);
  if (!talked) caller.ctx.allowances.started(caller.uid, "conversation");
  if (req.ref !== undefined) caller.send(frames.ack({ of: "dm", ref: req.ref, with: other, mid: at.mid }));
  await readOwn(caller, conversationPlace(other), at);
  // The message is stored: listing the conversation is for later, and may wait for the store to come back.
  // A guest not kept yet is from now on: it must find this conversation again.
  if (!addressee.kept) await bestEffort(caller, users.setName(other, otherName), "keep a guest written to");
  await bestEffort(caller, users.touchConversation(caller.uid, other, Date.now()), "list a conversation");
  // Someone who blocked the sender is not told: the sender's side goes on exactly as if they had not.
  if (!blockedByThem) {
    await hub.toUser(other, frames.conversation({ uid: caller.uid, name: caller.name }), { unlessIn: conversation });
  }
  if (other !== caller.uid) {
    await hub.toUser(caller.uid, frames.conversation({ uid: other, name: otherName }), {
      unlessIn: conversation,
      except: caller,
    });
  }
};

/** Whether `other` blocked the caller; without the store, taken as not (their connections still filter by their own list). */
async function isBlockedBy(caller: Caller, other: string): Promise<boolean> {
  const theirs = await caller.ctx.moderation.store.blocksOf(other).catch((err: unknown) => {
    caller.ctx.log.warn({ err }, "could not read whom a user blocked");
    return [];
  });
  return theirs.some((b) => b.uid === caller.uid);
}

/**
 * A first direct message between two users starts a conversation: the
 * sender has NEW_CONVERSATIONS_PER_HOUR of those, and the recipient hears
 * from at most FIRST_DMS_PER_RECIPIENT people it never talked to a minute,
 * so that a crowd of fresh guests cannot bury someone in notifications.
 */
async function mayStartConversation(caller: Caller, other: string): Promise<void> {
  const { allowances, users } = caller.ctx;
  if (!allowances.mayStart(caller.uid, "conversation")) throw allowances.startRefusal(caller.uid, "conversation");
  if (other === caller.uid || allowances.firstDmsPerRecipient === 0) return;
  const wait = await users.countFirstContact(other, allowances.firstDmsPerRecipient);
  if (wait > 0) {
    throw new RequestError(
      "recipient_busy",
      `this user is getting too many messages from people new to them: try again in ${wait} s`,
      wait,
    );
  }
}
