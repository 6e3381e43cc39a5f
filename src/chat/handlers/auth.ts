import { RequestError } from "../../protocol/errors.js";
import * as frames from "../frames.js";
import type { Handler } from "./caller.js";
import { rename } from "./people.js";

/** `auth`: a fresh token for the same user moves the connection's end to the token's. */
export const auth: Handler<"auth"> = async (caller, req) => {
  const { authenticate } = caller.ctx;
  if (!authenticate || !caller.lease || caller.signIn !== undefined) {
    throw new RequestError("forbidden", "this connection was not admitted by a token");
  }
  if (req.token === undefined) throw new RequestError("bad_request", "field 'token': required");
  const identity = await authenticate(req.token);
  if (identity.uid !== caller.uid) throw new RequestError("forbidden", "the token is for another user");
  caller.lease.renew(identity.expiresAt);
  if (identity.name !== caller.name) await rename(caller, identity.name);
  if (req.ref !== undefined) caller.send(frames.ack({ of: "auth", ref: req.ref }));
};
