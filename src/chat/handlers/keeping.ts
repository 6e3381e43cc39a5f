import type { Caller } from "./caller.js";
import { bestEffort } from "./rooms.js";

/**
 * The caller did something worth keeping its user for (a message, a room
 * other than the lobby, a name): a guest kept so far only by its connection
 * is stored from now on, with its name and rooms. Resolves at once for a
 * user that is kept already, or cannot be (a proto 1 guest).
 */
export async function keepUser(caller: Caller): Promise<void> {
  if (caller.kept || !caller.persistent) return;
  caller.kept = true;
  const { users } = caller.ctx;
  const writes = [
    users.setName(caller.uid, caller.name),
    // Past MAX_ROOMS_PER_USER the rooms beyond it stay the connection's, and are not kept.
    ...[...caller.rooms].map((r) => users.addRoom(caller.uid, r, caller.ctx.policy.maxRoomsPerUser)),
  ];
  await bestEffort(caller, Promise.all(writes), "keep a guest");
}

/** A user one may write to: kept, or connected now but not kept yet (a guest that has only been reading). */
export interface Addressee {
  name: string;
  kept: boolean;
}

export async function findAddressee(caller: Caller, uid: string): Promise<Addressee | undefined> {
  const kept = await caller.ctx.users.nameOf(uid);
  if (kept !== undefined) return { name: kept, kept: true };
  const name = await caller.ctx.hub.connectedName(uid);
  return name === undefined ? undefined : { name, kept: false };
}
