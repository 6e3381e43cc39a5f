import { conversationOf } from "./conversations.js";
import type { Caller } from "./handlers/caller.js";
import { admit } from "./room-access.js";

/** How a search hit names where it was said: a room, or the other user of a conversation. */
export type PlaceName = { room: string; with?: undefined } | { with: string; room?: undefined };

/**
 * Of `rooms`, those the caller's user may read now. The one answer to "may
 * this user read room R" for every read that does not go through a joined
 * room (search): the user is in the room, and the room lets them in now
 * (admit: a private room's member, not banned). Being in it is not enough on
 * its own: taking a kicked or banned user out of their kept rooms is best
 * effort, and a search must not read what a join would refuse.
 */
export async function readableRooms(caller: Caller, rooms: Iterable<string>): Promise<string[]> {
  const kept = caller.kept ? await caller.ctx.users.roomsOf(caller.uid) : [];
  const isIn = new Set([...kept, ...caller.rooms]);
  const candidates = [...new Set(rooms)].filter((room) => isIn.has(room));
  const admitted = await Promise.all(
    candidates.map((room) =>
      admit(caller, room).then(
        () => true,
        () => false,
      ),
    ),
  );
  return candidates.filter((_, i) => admitted[i]);
}

/**
 * Everything the caller's user may read now, by place: the rooms they are in
 * (on any connection, as the user store keeps them) and their own
 * conversations, the most recent CONVERSATIONS_LISTED of them.
 */
export async function readablePlaces(caller: Caller): Promise<Map<string, PlaceName>> {
  const record = caller.kept
    ? await caller.ctx.users.load(caller.uid)
    : { rooms: [] as string[], conversations: [] as { uid: string }[] };
  const places = new Map<string, PlaceName>();
  for (const room of await readableRooms(caller, [...record.rooms, ...caller.rooms])) places.set(room, { room });
  for (const other of record.conversations) places.set(conversationOf(caller.uid, other.uid), { with: other.uid });
  for (const [other, place] of caller.conversations) places.set(place, { with: other });
  return places;
}
