import { idempotencyKey } from "../../bus/idempotency.js";
import { RequestError } from "../../protocol/errors.js";
import { checkText } from "../../protocol/rules.js";
import { conversationOf, conversationPlace } from "../conversations.js";
import * as frames from "../frames.js";
import { type Handler, requirePersistent } from "./caller.js";
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
  const otherName = other === caller.uid ? caller.name : await users.nameOf(other);
  if (otherName === undefined) throw new RequestError("no_such_user", "there is no such user");
  const conversation = conversationOf(caller.uid, other);
  const key = idempotencyKey(req.action, caller.uid, req.ref);
  const at = await hub.publishDm(conversation, caller, other, text, key);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "dm", ref: req.ref, with: other, mid: at.mid }));
  await readOwn(caller, conversationPlace(other), at);
  // The message is stored: listing the conversation is for later, and may wait for the store to come back.
  await bestEffort(caller, users.touchConversation(caller.uid, other, Date.now()), "list a conversation");
  await hub.toUser(other, frames.conversation({ uid: caller.uid, name: caller.name }), { unlessIn: conversation });
  if (other !== caller.uid) {
    await hub.toUser(caller.uid, frames.conversation({ uid: other, name: otherName }), {
      unlessIn: conversation,
      except: caller,
    });
  }
};
