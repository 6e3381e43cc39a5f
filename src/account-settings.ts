import type { AccountSettings } from "./accounts/accounts.js";
import type { Config } from "./config.js";
import type { Limits } from "./protocol/rules.js";

/** What a client is told it may send, and what names and rooms may be (user_info.limits). */
export function clientLimits(config: Config): Limits {
  return {
    maxMessageLength: config.MAX_MESSAGE_LENGTH,
    maxMessageBytes: config.MAX_MESSAGE_BYTES,
    maxNameLength: config.MAX_NAME_LENGTH,
    maxRoomLength: config.MAX_ROOM_LENGTH,
  };
}

/** The accounts' rules as configured: the server and `npm run admin` must apply the same ones. */
export function accountSettings(config: Config): AccountSettings {
  return {
    signup: config.SIGNUP,
    pepper: config.PASSWORD_PEPPER,
    sessionTtlMs: config.SESSION_TTL * 1000,
    attemptsPerAccount: config.SIGNIN_ATTEMPTS_PER_ACCOUNT,
    attemptsPerAddress: config.SIGNIN_ATTEMPTS_PER_IP,
    windowMs: config.SIGNIN_WINDOW * 1000,
    adminNames: config.ADMIN_USERS ?? [],
    limits: clientLimits(config),
  };
}
