import { errors, jwtVerify } from "jose";
import { RequestError } from "../protocol/errors.js";
import { checkName, type Limits } from "../protocol/rules.js";

export interface Identity {
  /** The user id the token vouches for. */
  uid: string;
  name: string;
  /** When the token stops vouching for it, ms since the epoch. */
  expiresAt: number;
}

/** How far ahead of this node's clock a token's `iat` may be: the issuer's clock may run a little fast. */
const CLOCK_SKEW_S = 60;

/**
 * Checks a connection's token: a JWT signed with HS256 and the shared
 * secret, whose `sub` is the user id, `name` the display name and `exp` its
 * end, at most `maxLifetimeS` after it was issued (or after now, for a token
 * without `iat`). A token that never expires would be a password, and so
 * would one issued years ahead: `iat` may lead the clock by a minute at most.
 */
export function tokenVerifier(
  secret: string,
  limits: Limits,
  maxLifetimeS: number,
): (token: string) => Promise<Identity> {
  const key = new TextEncoder().encode(secret);
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, { algorithms: ["HS256"], requiredClaims: ["exp"] }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new RequestError("unauthorized", "the token has expired");
      if (err instanceof errors.JWTClaimValidationFailed) {
        throw new RequestError("unauthorized", "the token must carry 'exp'");
      }
      throw new RequestError("unauthorized", "the token is invalid");
    }
    const { sub, name, exp, iat } = payload;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > 128 || typeof name !== "string") {
      throw new RequestError("unauthorized", "the token must carry a 'sub' and a 'name'");
    }
    const now = Date.now() / 1000;
    if (typeof iat === "number" && iat > now + CLOCK_SKEW_S) {
      throw new RequestError("unauthorized", "the token was issued in the future");
    }
    const issued = typeof iat === "number" ? iat : now;
    if (typeof exp !== "number" || exp - issued > maxLifetimeS) {
      throw new RequestError("unauthorized", `the token must expire within ${maxLifetimeS} s of being issued`);
    }
    return { uid: sub, name: checkName(name, limits), expiresAt: exp * 1000 };
  };
}
