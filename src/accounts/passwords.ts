import { createHmac, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { COMMON_PASSWORDS } from "./common-passwords.js";

/**
 * OWASP's scrypt settings (Password Storage Cheat Sheet): N=2^15, r=8, p=3
 * is one of its equal-strength choices, and the one that holds 32 MiB per
 * hash rather than 128, so a burst of sign-ins cannot take the node's memory.
 */
const CURRENT = { ln: 15, r: 8, p: 3 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
export const MIN_PASSWORD_LENGTH = 10;
/** Longer passwords are no stronger, and each costs hashing: a cap keeps a huge one from being work. */
export const MAX_PASSWORD_LENGTH = 256;

export class PasswordRefused extends Error {}

function derive(secret: Buffer, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** ln, r, p, maxmem: 2 * 128 * 2 ** ln * r };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The password, keyed with the pepper when there is one: a stolen database alone then cracks nothing. */
function secretOf(password: string, pepper: string | undefined): Buffer {
  return pepper === undefined
    ? Buffer.from(password.normalize("NFC"))
    : createHmac("sha256", pepper).update(password.normalize("NFC")).digest();
}

/** Refuses a password too short, too long, on the common list, or the account's own name. */
export function checkNewPassword(password: string, name: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new PasswordRefused(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new PasswordRefused(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  const folded = password.toLowerCase();
  if (COMMON_PASSWORDS.has(folded)) {
    throw new PasswordRefused("that password is one of the first ones guessed: choose another");
  }
  if (name !== "" && folded.includes(name.toLowerCase())) {
    throw new PasswordRefused("the password must not contain the account's name: choose another");
  }
}

/** `$scrypt$ln=15,r=8,p=3,pepper=1$salt$key`: the hash carries what made it, so it can be checked and upgraded later. */
export async function hashPassword(password: string, pepper: string | undefined): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { ln, r, p } = CURRENT;
  const key = await derive(secretOf(password, pepper), salt, ln, r, p);
  const params = `ln=${ln},r=${r},p=${p},pepper=${pepper === undefined ? 0 : 1}`;
  return `$scrypt$${params}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

export interface Verdict {
  ok: boolean;
  /** Made with other settings than today's (or before a pepper was set): hash it again now that it is known. */
  stale: boolean;
}

const PARAMS = /^ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2}),pepper=([01])$/;

/** Compares in constant time. A hash that cannot be read never matches. */
export async function verifyPassword(password: string, stored: string, pepper: string | undefined): Promise<Verdict> {
  const [, scheme, params = "", salt = "", key = ""] = stored.split("$");
  const m = PARAMS.exec(params);
  if (scheme !== "scrypt" || !m || password.length > MAX_PASSWORD_LENGTH) return { ok: false, stale: false };
  const [ln, r, p, peppered] = [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === "1"];
  if (peppered && pepper === undefined) return { ok: false, stale: false };
  const expected = Buffer.from(key, "base64url");
  const got = await derive(secretOf(password, peppered ? pepper : undefined), Buffer.from(salt, "base64url"), ln, r, p);
  const ok = got.length === expected.length && timingSafeEqual(got, expected);
  const stale = ln !== CURRENT.ln || r !== CURRENT.r || p !== CURRENT.p || peppered !== (pepper !== undefined);
  return { ok, stale };
}

/**
 * Hashed for a name that is no account, so that a sign-in takes as long
 * whether the account exists or not and the time tells nobody which names are taken.
 */
export async function burnOneHash(password: string): Promise<void> {
  await derive(secretOf(password, undefined), randomBytes(SALT_BYTES), CURRENT.ln, CURRENT.r, CURRENT.p);
}
