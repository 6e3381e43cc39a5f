import { z } from "zod";

/**
 * What a room is on the wire: its visibility and the roles people hold in it
 * (docs/protocol.md#rooms). The room's `room` field everywhere stays its
 * stable id; the display name is a property of it that can change.
 */

/** `public`: listed, anyone joins. `private`: members only, not listed. `readonly`: anyone reads, moderators post. */
export const VISIBILITIES = ["public", "private", "readonly"] as const;
export const visibility = z.enum(VISIBILITIES);
export type Visibility = z.output<typeof visibility>;

/** Highest first; a server admin outranks them all in every room without holding any. */
export const ROLES = ["owner", "moderator", "member"] as const;
export const role = z.enum(ROLES);
export type Role = z.output<typeof role>;

const RANK: Record<Role, number> = { member: 0, moderator: 1, owner: 2 };

/** Whether `held` is `wanted` or above it. */
export function atLeast(held: Role | undefined, wanted: Role): boolean {
  return held !== undefined && RANK[held] >= RANK[wanted];
}

/** Lengths of what a room's creator writes (ROOM_NAME_LENGTH, ROOM_TOPIC_LENGTH). */
export interface RoomTextLimits {
  maxRoomNameLength: number;
  maxTopicLength: number;
}

/**
 * The id a display name suggests: "Design Team" → "design-team". Letters
 * outside a-z lose their accents or, with none to lose, fall out; what is
 * left empty becomes "room". The caller makes it unique.
 */
export function slugOf(name: string, maxLength: number): string {
  const slug = name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, maxLength)
    .replace(/-+$/, "");
  return slug.length > 0 ? slug : "room";
}

/**
 * Marks a private room's id: its slug, `~`, and this many random letters and
 * digits. No `join` can make a room of that shape, so for a non-member a
 * private room and an id nobody has are answered alike (`no_such_room`).
 */
export const PRIVATE_TAIL_LENGTH = 12;
export const PRIVATE_ID = /~[a-z0-9]{12}$/;

/** Whether an id is a private room's shape. */
export const isPrivateId = (id: string): boolean => PRIVATE_ID.test(id);
