import { createHash } from "node:crypto";

/**
 * A conversation is stored and delivered as a room whose name nobody can
 * write: `@` and a hash of its two users' ids, in either order. A client
 * names a conversation by the other user (`with`), so a request can only
 * ever reach a conversation its own user is in.
 */
export function conversationOf(a: string, b: string): string {
  const [one, two] = a < b ? [a, b] : [b, a];
  return `@${createHash("sha256").update(`${one}\n${two}`).digest("base64url").slice(0, 22)}`;
}

/** Where a user's read mark for the conversation with `other` is kept. */
export function conversationPlace(other: string): string {
  return `@${other}`;
}

/** Room names cannot start with '@' (checkRoom): only a conversation's can. */
export function isConversation(room: string): boolean {
  return room.startsWith("@");
}
