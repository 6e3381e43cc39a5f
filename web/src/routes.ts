/**
 * The address's `#/…` part: which room, message or conversation a link
 * opens. Anyone can write a link, so the hash is read as untrusted input:
 * each part is decoded once, checked against what the server could ever
 * name, and refused whole (null) otherwise. What comes out is only ever
 * sent as JSON or shown as text, never put into markup.
 */

export type Route =
  /** A room by its id (the wire's `room`), and, for a link to a message, that message's `mid`. */
  | { kind: "room"; room: string; mid?: number }
  /** The conversation with a user, by their user id, and maybe one of its messages (a link for oneself). */
  | { kind: "dm"; uid: string; mid?: number };

/** Longer than any id the server hands out or takes (room names, user ids): a longer part is not one. */
const MAX_PART = 128;
/**
 * A room id: letters or digits first, then those, marks, `_` and `-` (today's
 * ids are a-z 0-9 _ -), and a private room's `~` and random letters and digits.
 */
const ROOM = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}_-]*(~[\p{L}\p{N}]+)?$/u;
/** A user id: no spaces, no controls, nothing that draws nothing or rearranges text. */
const UID = /^[^\p{White_Space}\p{C}\p{Default_Ignorable_Code_Point}]+$/u;
/** A mid as the server numbers messages: 1, 2, 3…, within what a double holds exactly. */
const MID = /^[1-9][0-9]{0,14}$/;

/** A part of the path, percent-decoded; null when its escapes are broken or it is not plausible. */
function part(raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return text.length > MAX_PART ? null : text.normalize("NFC");
}

/** The route a hash names (with or without its `#`), or null for anything else, a one-time link's `#reset=` among them. */
export function parseRoute(hash: string): Route | null {
  const path = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!path.startsWith("/")) return null;
  const [kind, first, second, ...rest] = path.slice(1).split("/");
  if (rest.length > 0 || (second !== undefined && !MID.test(second))) return null;
  const at = second === undefined ? {} : { mid: Number(second) };
  if (kind === "room") {
    const room = part(first)?.toLowerCase();
    return room === undefined || !ROOM.test(room) ? null : { kind: "room", room, ...at };
  }
  if (kind === "dm") {
    const uid = part(first);
    return uid === null || !UID.test(uid) ? null : { kind: "dm", uid, ...at };
  }
  return null;
}

/** The hash (with its `#`) that opens `route`: what the address shows and what "Copy link" copies. */
export function formatRoute(route: Route): string {
  const place =
    route.kind === "dm" ? `#/dm/${encodeURIComponent(route.uid)}` : `#/room/${encodeURIComponent(route.room)}`;
  return route.mid === undefined ? place : `${place}/${route.mid}`;
}

/** The route of a room (by id) or of the conversation with a user (by uid), at message `mid` if given. */
export function routeTo(kind: Route["kind"], target: string, mid?: number): Route {
  const at = mid === undefined ? {} : { mid };
  return kind === "room" ? { kind, room: target, ...at } : { kind, uid: target, ...at };
}

/** The full address of `route` on this page's server, for sharing. */
export function routeUrl(route: Route, base: string = location.href): string {
  return new URL(formatRoute(route), base).href;
}
