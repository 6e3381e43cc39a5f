import { readFileSync } from "node:fs";
import type { Result } from "ioredis";
import type { RedisClient } from "./redis-link.js";

/**
 * The scripts (rooms, presence, read marks, sanctions), read once from ./lua (copied next to the build by
 * `npm run build:server`) and defined on a client as ioredis custom commands:
 * ioredis sends EVALSHA and falls back to EVAL, on every shard of a Cluster.
 */
const read = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8");
const roomEpoch = read("room-epoch.lua");
const windowOrder = read("window-order.lua");
const presenceRoom = read("presence-room.lua");
/** A room's presence: the seven keys of RedisKeys.roomPresence, then the script's own arguments. */
const presence = (file: string) => ({ numberOfKeys: 7, lua: presenceRoom + read(file) });

const SCRIPTS = {
  chatStoreAndPublish: { numberOfKeys: 10, lua: roomEpoch + windowOrder + read("store-and-publish.lua") },
  chatReadHistory: { numberOfKeys: 7, lua: roomEpoch + windowOrder + read("read-history.lua") },
  chatPublishReplicated: { numberOfKeys: 1, lua: read("publish-replicated.lua") },
  chatPresenceEnter: presence("presence-enter.lua"),
  chatPresenceExit: presence("presence-exit.lua"),
  chatPresenceSweep: presence("presence-sweep.lua"),
  chatPresenceSync: presence("presence-sync.lua"),
  chatPresenceRelease: presence("presence-release.lua"),
  chatPresenceRename: presence("presence-rename.lua"),
  chatPresenceBeat: { numberOfKeys: 1, lua: read("presence-beat.lua") },
  chatMarkRead: { numberOfKeys: 1, lua: read("mark-read.lua") },
  chatUserAddRoom: { numberOfKeys: 1, lua: read("user-add-room.lua") },
  // Any number of rooms a call (two keys each to take, three when done): the caller passes the number of keys first.
  chatCarryTake: { lua: read("carry-take.lua") },
  chatCarryDone: { lua: read("carry-done.lua") },
  chatSanctionSet: { numberOfKeys: 1, lua: read("sanction-set.lua") },
  chatRoomUpdate: { numberOfKeys: 2, lua: read("room-update.lua") },
  chatModerationRoom: { numberOfKeys: 2, lua: read("moderation-room.lua") },
} as const;

/** A stream entry as XRANGE returns it: id, then field, value, field, value. */
export type StreamEntry = [id: string, fields: string[]];

type Arg = string | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    chatStoreAndPublish(...args: Arg[]): Result<[mid: number, payload: string, epoch: string], Context>;
    chatReadHistory(
      ...args: Arg[]
    ): Result<[top: number, epoch: string, floor: number, entries: StreamEntry[], bundles: string[]], Context>;
    chatPublishReplicated(...args: Arg[]): Result<number, Context>;
    /** Is new, users, lapsed, then uid, name, rep of each user when asked and few enough; [-1] when another user in the room has the name. */
    chatPresenceEnter(...args: Arg[]): Result<(number | string)[], Context>;
    /** The user's connections left, then uid, name, rep and users left when the user left at once. */
    chatPresenceExit(...args: Arg[]): Result<(number | string)[], Context>;
    /** Lapsed, users, then uid, name, rep of each user gone. */
    chatPresenceSweep(...args: Arg[]): Result<(number | string)[], Context>;
    /** Users, then uid, name, connection of each user new to the room. */
    chatPresenceSync(...args: Arg[]): Result<(number | string)[], Context>;
    chatPresenceRelease(...args: Arg[]): Result<number, Context>;
    chatPresenceRename(...args: Arg[]): Result<number, Context>;
    chatPresenceBeat(...args: Arg[]): Result<[now: number, before: number], Context>;
    chatMarkRead(...args: Arg[]): Result<number, Context>;
    chatUserAddRoom(...args: Arg[]): Result<number, Context>;
    /** For each room: [1] when this node holds the room's lease, else [0, entries in the stream]. */
    chatCarryTake(...args: Arg[]): Result<([1] | [0, number])[], Context>;
    /** For each room, the entries left in its stream. */
    chatCarryDone(...args: Arg[]): Result<number[], Context>;
    /** When the room's sanctions expire (ms), 0 for never or for none left. */
    chatSanctionSet(...args: Arg[]): Result<number, Context>;
    /** The room's hash after the change (field, value, …); 0 when its name changed since it was read; null for no room. */
    chatRoomUpdate(...args: Arg[]): Result<string[] | 0 | null, Context>;
    /** A room's sanctions (field, value…) and its rules' slow, pinned, version. */
    chatModerationRoom(
      ...args: Arg[]
    ): Result<[sanctions: string[], rules: [string | null, string | null, string | null]], Context>;
  }
}

/** Defines every script on a client; defining them again is harmless. */
export function defineScripts(client: RedisClient): void {
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);
}
