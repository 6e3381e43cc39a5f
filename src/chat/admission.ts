import type { Logger } from "pino";
import { type ErrorCode, RequestError } from "../protocol/errors.js";
import type { ConnectOptions } from "../protocol/requests.js";
import type { Role } from "../protocol/rooms.js";
import { LogSampler } from "../transport/log-sampler.js";
import type { ChatContext } from "./context.js";
import * as frames from "./frames.js";
import type { Meter } from "./meter.js";

/** A connection that can be refused: told why, then closed. */
export interface Refusable {
  send(json: string): void;
  close(code: number, reason: string): void;
}

export interface ConnectionRefusal {
  code: ErrorCode;
  message: string;
  closeCode: number;
  closeReason: string;
  /** Seconds after which a new connection would be let in. */
  wait?: number;
}

/** A client can be refused as fast as it can connect: the log gets one line per code per interval, the counter all. */
const refusalLog = new LogSampler(10_000);

/**
 * Refuses a connection before it is anyone's business: one `error`, a log
 * line at a sampled rate, then the close code. It was never in a room or on
 * a list, so nobody else ever learns of it.
 */
export function refuseConnection(
  conn: Refusable,
  refusal: ConnectionRefusal,
  log: Logger,
  meter: Meter,
  fields: Record<string, unknown> = {},
): void {
  meter.refused(refusal.code);
  const unlogged = refusalLog.take(refusal.code);
  if (unlogged !== undefined) log.info({ code: refusal.code, unlogged, ...fields }, "connection refused");
  conn.send(frames.error(refusal.code, refusal.message, undefined, refusal.wait));
  conn.close(refusal.closeCode, refusal.closeReason);
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The connection ends when its token does, unless a fresh one (`auth`) moves the end first. */
export class TokenLease {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onExpiry: () => void) {}

  renew(expiresAt: number): void {
    clearTimeout(this.timer);
    const left = expiresAt - Date.now();
    // A timer waits at most 2^31-1 ms (24.8 days), less than a token may last: a longer wait is taken in steps.
    this.timer = setTimeout(
      () => (left > MAX_TIMER_MS ? this.renew(expiresAt) : this.onExpiry()),
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
    this.timer.unref();
  }

  end(): void {
    clearTimeout(this.timer);
  }
}

/** Who a new connection is. */
export interface Identified {
  uid: string;
  /** The token's or the account's name; undefined for a guest, whose name is kept or made up. */
  name: string | undefined;
  /** Kept between connections: an account's or a token's user, or a `proto=2` guest. */
  persistent: boolean;
  /** When the token or the sign-in session that admitted it ends. */
  expiresAt: number | undefined;
  /** A fresh guest token for a `proto=2` guest to keep. */
  guestToken: string | undefined;
  /** The sign-in session of an account's connection. */
  signIn: string | undefined;
  /** A server admin (an account's flag, or a token's `admin` claim). */
  admin: boolean;
  /** Roles a token grants, by room id. */
  roomRoles: ReadonlyMap<string, Role> | undefined;
}

/**
 * Who a connection is, from what it brought (in its URL, or with
 * `?auth=first` in its first frame): a sign-in ticket makes it its account's
 * while the session lasts; a token (AUTH_SECRET) its `sub`'s, until the
 * token ends. Either, when bad, refuses it (RequestError `unauthorized`):
 * someone who meant to be somebody is never quietly made a guest. With
 * neither, a guest where GUESTS allows, else refused: the same user as
 * before when a `proto=2` client brings back its guest token, a new one
 * otherwise, as many an hour from one address as NEW_GUESTS_PER_IP allows
 * (RequestError `too_many_guests`). A client of the original protocol is a
 * new guest each time, and is never kept.
 */
export async function identify(ctx: ChatContext, options: ConnectOptions, address: string): Promise<Identified> {
  if (options.ticket !== undefined) {
    const holder = await ctx.redeemTicket?.(options.ticket);
    if (!holder) throw new RequestError("unauthorized", "your sign-in has ended: sign in again");
    const { uid, name, expires, session, admin } = holder;
    return {
      uid,
      name,
      persistent: true,
      expiresAt: expires,
      guestToken: undefined,
      signIn: session,
      admin: admin === true,
      roomRoles: undefined,
    };
  }
  if (options.token !== undefined) {
    if (!ctx.authenticate) throw new RequestError("unauthorized", "this chat takes no tokens");
    const { uid, name, expiresAt, admin, roomRoles } = await ctx.authenticate(options.token);
    return { uid, name, persistent: true, expiresAt, guestToken: undefined, signIn: undefined, admin, roomRoles };
  }
  const guests = ctx.guests;
  if (!guests) {
    const how = ctx.authenticate ? "connect with a token" : "sign in";
    throw new RequestError("unauthorized", `this chat has no guests: ${how}`);
  }
  const none = { name: undefined, expiresAt: undefined, signIn: undefined, admin: false, roomRoles: undefined };
  if (options.proto !== 2) return { uid: guests.newUserId(), persistent: false, guestToken: undefined, ...none };
  let uid = options.guest ? await guests.verify(options.guest) : undefined;
  if (uid === undefined) {
    ctx.allowances.newGuest(address);
    uid = guests.newUserId();
  }
  return { uid, persistent: true, guestToken: await guests.issue(uid), ...none };
}
