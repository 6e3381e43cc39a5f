import * as frames from "../frames.js";
import type { Handler } from "./caller.js";

/** `ping`: answered at once, so that a client can tell a live link from one that silently drops. */
export const ping: Handler<"ping"> = (caller, req) => {
  caller.send(frames.pong(req.ref));
  return undefined;
};
