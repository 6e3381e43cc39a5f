import { jwtVerify } from "jose";
import { checkName, type Limits, RequestError } from "./protocol.js";

export interface Identity {
  /** The user id the token vouches for. */
  uid: string;
  name: string;
}

/**
 * Checks the `token` parameter of a connection's query string: a JWT signed with
 * HS256 and the shared secret, whose `sub` is the user id and `name` the
 * display name.
 */
export function tokenVerifier(secret: string, limits: Limits): (query: string) => Promise<Identity> {
  const key = new TextEncoder().encode(secret);
  return async (query) => {
    const token = new URLSearchParams(query).get("token");
    if (!token) throw new RequestError("unauthorized", "this chat needs a token: connect with ?token=<JWT>");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, { algorithms: ["HS256"] }));
    } catch {
      throw new RequestError("unauthorized", "the token is invalid or expired");
    }
    const { sub, name } = payload;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > 128 || typeof name !== "string") {
      throw new RequestError("unauthorized", "the token must carry a 'sub' and a 'name'");
    }
    return { uid: sub, name: checkName(name, limits) };
  };
}
