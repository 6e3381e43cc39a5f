import { checkText } from "../../protocol/rules.js";
import type { Handler } from "./caller.js";

/** `pm`: a private message to one connection, on whatever node holds it. */
export const pm: Handler<"pm"> = async (caller, req) => {
  const text = checkText(req.message, caller.ctx.limits);
  await caller.ctx.hub.sendPm(caller, req.target.id, text, req.ref);
};
