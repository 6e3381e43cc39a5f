import { randomBytes } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

/** How long a guest token stays good; every connection gets a fresh one, so only a guest gone this long is lost. */
const GUEST_TOKEN_DAYS = 180;

/**
 * Guest identities, for a chat without AUTH_SECRET: a user id nobody can
 * guess (128 random bits), in a token signed with the guests' secret, which
 * the client keeps and presents (`?guest=`) to be the same user again, on any
 * node. Neither forged nor taken over by guessing.
 */
export class GuestIdentities {
  private key: Uint8Array;

  constructor(private secretText: string) {
    this.key = new TextEncoder().encode(secretText);
  }

  get secret(): string {
    return this.secretText;
  }

  /** Signs and verifies with `secret` from now on: the one every node agreed on after Redis lost its data. */
  rekey(secret: string): void {
    this.secretText = secret;
    this.key = new TextEncoder().encode(secret);
  }

  newUserId(): string {
    return `g-${randomBytes(16).toString("base64url")}`;
  }

  issue(uid: string): Promise<string> {
    return new SignJWT({ guest: true })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(uid)
      .setIssuedAt()
      .setExpirationTime(`${GUEST_TOKEN_DAYS}d`)
      .sign(this.key);
  }

  /** The user id a guest token vouches for, or undefined for one that is forged, expired or not a guest's. */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] });
      return payload.guest === true && typeof payload.sub === "string" && payload.sub.startsWith("g-")
        ? payload.sub
        : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * A name for a guest who has chosen none: drawn again when someone in a room
 * the guest enters has it. From 900,000 numbers, so that a lobby of thousands
 * of guests rarely draws one twice; from 900, two guests of a busy lobby
 * would keep drawing each other's names.
 */
export function drawGuestName(): string {
  return `User #${100_000 + Math.floor(Math.random() * 900_000)}`;
}
