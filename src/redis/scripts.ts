import { readFileSync } from "node:fs";
import type { Result } from "ioredis";
import type { RedisClient } from "./redis-link.js";

/**
 * The room scripts, read once from ./lua (copied next to the build by
 * `npm run build:server`) and defined on a client as ioredis custom commands:
 * ioredis sends EVALSHA and falls back to EVAL, on every shard of a Cluster.
 */
const read = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8");
const roomEpoch = read("room-epoch.lua");

const SCRIPTS = {
  chatStoreAndPublish: { numberOfKeys: 4, lua: roomEpoch + read("store-and-publish.lua") },
  chatReadHistory: { numberOfKeys: 4, lua: roomEpoch + read("read-history.lua") },
  chatPublishReplicated: { numberOfKeys: 1, lua: read("publish-replicated.lua") },
} as const;

/** A stream entry as XRANGE returns it: id, then field, value, field, value. */
export type StreamEntry = [id: string, fields: string[]];

type Arg = string | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    chatStoreAndPublish(...args: Arg[]): Result<[mid: number, payload: string], Context>;
    chatReadHistory(...args: Arg[]): Result<[top: number, epoch: string, entries: StreamEntry[]], Context>;
    chatPublishReplicated(...args: Arg[]): Result<number, Context>;
  }
}

export function defineRoomScripts(client: RedisClient): void {
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);
}
