import { createPublicKey } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { RequestError } from "../protocol/errors.js";
import { type Role, role } from "../protocol/rooms.js";
import { checkName, type Limits } from "../protocol/rules.js";

export interface Identity {
  /** The user id the token vouches for. */
  uid: string;
  name: string;
  /** When the token stops vouching for it, ms since the epoch. */
  expiresAt: number;
  /** The token's `admin: true`: the embedding app makes it a server admin. */
  admin: boolean;
  /** The token's `rooms` claim: a role per room id, which the embedding app grants. */
  roomRoles: ReadonlyMap<string, Role>;
}

/** The `rooms` claim, `{"<room id>": "owner" | "moderator" | "member"}`; entries of another shape are ignored. */
function roomRolesOf(claim: unknown): Map<string, Role> {
  const roles = new Map<string, Role>();
  if (typeof claim !== "object" || claim === null || Array.isArray(claim)) return roles;
  for (const [room, held] of Object.entries(claim)) {
    const parsed = role.safeParse(held);
    if (parsed.success && room.length <= 256) roles.set(room.toLowerCase(), parsed.data);
  }
  return roles;
}

/** How far ahead of this node's clock a token's `iat` may be: the issuer's clock may run a little fast. */
const CLOCK_SKEW_S = 60;

/** Where the keys an embedding app signs its tokens with come from. */
export type TokenKeys =
  /** AUTH_SECRET: HS256 with a secret the chat shares with the app. */
  | { kind: "secret"; secret: string }
  /** AUTH_PUBLIC_KEY: the app's public key (PEM), so the chat never holds what signs. */
  | { kind: "public"; pem: string }
  /** AUTH_JWKS_URL: the app's published keys, fetched and cached, rotated by `kid`. */
  | { kind: "jwks"; url: string };

/** The asymmetric algorithms taken: RSA, P-256 and Ed25519; never `none`, never HS256 with a public key as its secret. */
const ASYMMETRIC = ["RS256", "ES256", "EdDSA"];

function verifierOf(keys: TokenKeys): (token: string) => ReturnType<typeof jwtVerify> {
  const options = { requiredClaims: ["exp"] };
  switch (keys.kind) {
    case "secret": {
      const key = new TextEncoder().encode(keys.secret);
      return (token) => jwtVerify(token, key, { ...options, algorithms: ["HS256"] });
    }
    case "public": {
      const key = createPublicKey(keys.pem);
      return (token) => jwtVerify(token, key, { ...options, algorithms: ASYMMETRIC });
    }
    case "jwks": {
      const set = createRemoteJWKSet(new URL(keys.url));
      return (token) => jwtVerify(token, set, { ...options, algorithms: ASYMMETRIC });
    }
  }
}

/**
 * Checks a connection's token: a JWT signed with the app's key (HS256 and a
 * shared secret, or RS256, ES256 or EdDSA and a public key), whose `sub` is
 * the user id, `name` the display name and `exp` its end, at most
 * `maxLifetimeS` after it was issued (or after now, for a token without
 * `iat`). A token that never expires would be a password, and so would one
 * issued years ahead: `iat` may lead the clock by a minute at most.
 */
export function tokenVerifier(
  keys: TokenKeys,
  limits: Limits,
  maxLifetimeS: number,
): (token: string) => Promise<Identity> {
  const verify = verifierOf(keys);
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new RequestError("unauthorized", "the token has expired");
      if (err instanceof errors.JWTClaimValidationFailed) {
        throw new RequestError("unauthorized", "the token must carry 'exp'");
      }
      throw new RequestError("unauthorized", "the token is invalid");
    }
    const { sub, name, exp, iat, admin, rooms } = payload;
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
    return {
      uid: sub,
      name: checkName(name, limits),
      expiresAt: exp * 1000,
      admin: admin === true,
      roomRoles: roomRolesOf(rooms),
    };
  };
}
